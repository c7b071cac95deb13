with

events as (

    select * from {{ ref('stg_shop__events') }}

),

sessionised as (

    -- sources without sessions (e.g. Online Retail) get one pseudo-session per user and calendar day
    select
        user_id,
        is_guest,
        coalesce(session_id, 'day:' || strftime(occurred_at, '%Y-%m-%d')) as session_key,
        event_type,
        occurred_at,
        dwell_seconds,

    from events

),

summarised as (

    select
        user_id,
        session_key,
        bool_or(is_guest) as is_guest,
        min(occurred_at) as session_started_at,
        max(occurred_at) as session_ended_at,
        date_diff('second', min(occurred_at), max(occurred_at)) as duration_seconds,
        coalesce(sum(dwell_seconds), 0) as total_dwell_seconds,
        count(*) as count_events,
        count(*) filter (where event_type = 'view') as count_views,
        count(*) filter (where event_type = 'add_to_cart') as count_carts,
        count(*) filter (where event_type = 'purchase') as count_purchases,

    from sessionised
    group by user_id, session_key

),

final as (

    select
        *,
        count_purchases > 0 as has_purchase,
        count_carts > 0 and count_purchases = 0 as is_cart_abandoned,

    from summarised

)

select * from final
