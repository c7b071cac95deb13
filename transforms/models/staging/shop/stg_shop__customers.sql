with

source as (

    select * from {{ source('raw', 'customers') }}

),

renamed as (

    select
        cast(user_id as varchar) as user_id,
        cast(first_seen_at as timestamp) as first_seen_at,
        cast(country as varchar) as country,
        cast(age_band as varchar) as age_band,
        cast(gender as varchar) as gender,
        cast(consent_personalization as boolean) as consent_personalization,
        cast(consent_personalization_at as timestamp) as consent_personalization_at,
        cast(consent_marketing as boolean) as consent_marketing,
        cast(consent_marketing_at as timestamp) as consent_marketing_at,

    from source

),

final as (

    -- ids are unique after validation; keep one row per user anyway (the earliest seen)
    select
        *,
        {{ is_guest('user_id') }} as is_guest,

    from renamed
    qualify row_number() over (
        partition by user_id
        order by first_seen_at nulls last, country, age_band, gender
    ) = 1

)

select * from final
