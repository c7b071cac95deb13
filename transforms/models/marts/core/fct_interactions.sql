with

interactions_weighted as (

    select * from {{ ref('int_interactions_weighted') }}

),

final as (

    select
        event_id,
        user_id,
        is_guest,
        session_id,
        item_id,
        event_type,
        occurred_at,
        quantity,
        price,
        order_id,
        dwell_seconds,
        placement,
        request_id,
        age_days,
        weight,
        decayed_weight,

    from interactions_weighted

)

select * from final
