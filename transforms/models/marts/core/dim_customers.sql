with

customers as (

    select * from {{ ref('stg_shop__customers') }}

),

events as (

    select * from {{ ref('stg_shop__events') }}

),

event_users as (

    select
        user_id,
        min(occurred_at) as first_event_at,
        max(occurred_at) as last_event_at,

    from events
    group by user_id

),

joined as (

    -- every customer profile, plus the event users without one (guests included)
    select
        coalesce(customers.user_id, event_users.user_id) as user_id,
        customers.user_id is not null as has_profile,
        least(customers.first_seen_at, event_users.first_event_at) as first_seen_at,
        event_users.first_event_at,
        event_users.last_event_at,
        customers.country,
        customers.age_band,
        customers.gender,
        customers.consent_personalization,
        customers.consent_personalization_at,
        customers.consent_marketing,
        customers.consent_marketing_at,

    from customers
    full outer join event_users
        on customers.user_id = event_users.user_id

),

final as (

    select
        user_id,
        {{ is_guest('user_id') }} as is_guest,
        has_profile,
        first_seen_at,
        first_event_at,
        last_event_at,
        country,
        age_band,
        gender,
        consent_personalization,
        consent_personalization_at,
        consent_marketing,
        consent_marketing_at,

    from joined

)

select * from final
