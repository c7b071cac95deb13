with

source as (

    select * from {{ source('raw', 'events') }}

),

renamed as (

    select
        cast(event_id as varchar) as event_id,
        cast(user_id as varchar) as user_id,
        cast(session_id as varchar) as session_id,
        cast(item_id as varchar) as item_id,
        lower(trim(cast(event_type as varchar))) as event_type,
        cast(occurred_at as timestamp) as occurred_at,
        coalesce(cast(quantity as bigint), 1) as quantity,
        cast(price as double) as price,
        cast(order_id as varchar) as order_id,
        cast(dwell_seconds as double) as dwell_seconds,
        cast(placement as varchar) as placement,
        cast(request_id as varchar) as request_id,

    from source

),

deduplicated as (

    -- first occurrence = earliest occurred_at; the other columns only make ties deterministic
    select *
    from renamed
    qualify row_number() over (
        partition by event_id
        order by occurred_at, event_type, user_id, item_id, session_id, order_id
    ) = 1

),

final as (

    select
        *,
        {{ is_guest('user_id') }} as is_guest,

    from deduplicated

)

select * from final
