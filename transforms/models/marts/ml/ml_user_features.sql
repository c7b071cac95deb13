with

segments as (

    select * from {{ ref('ml_customer_segments') }}

),

customers as (

    select * from {{ ref('dim_customers') }}

),

interactions as (

    select * from {{ ref('fct_interactions') }}

),

sessions as (

    select * from {{ ref('int_sessions_summarised') }}

),

items as (

    select * from {{ ref('ml_item_features') }}

),

category_affinity as (

    select * from {{ ref('ml_user_category_affinity') }}

),

user_events as (

    select
        user_id,
        greatest(sum(decayed_weight) filter (where event_type != 'impression'), 0) as engagement_score,
        count(*) filter (where event_type != 'impression') as count_events,
        count(*) filter (where event_type = 'view') as count_views,
        count(*) filter (where event_type = 'add_to_cart') as count_carts,
        count(*) filter (where event_type = 'purchase') as count_purchases,
        avg(dwell_seconds) filter (where event_type != 'impression') as avg_dwell_seconds,
        coalesce(sum(dwell_seconds) filter (where event_type != 'impression'), 0) as total_dwell_seconds,

    from interactions
    where not is_guest
    group by user_id

),

user_sessions as (

    select
        user_id,
        count(*) as count_sessions,
        count(*) filter (where has_purchase) as count_purchase_sessions,
        count(*) filter (where is_cart_abandoned) as cart_abandonment_count,

    from sessions
    where not is_guest
    group by user_id

),

priced_interest as (

    -- price paid or looked at, relative to the median price of the item's category_l1
    select
        interactions.user_id,
        coalesce(interactions.price, items.price) / nullif(items.category_median_price, 0) as relative_price,

    from interactions
    inner join items
        on interactions.item_id = items.item_id
    where not interactions.is_guest
        and interactions.event_type in ('view', 'click', 'add_to_cart', 'purchase')

),

user_prices as (

    select
        user_id,
        avg(relative_price) as price_sensitivity,

    from priced_interest
    group by user_id

),

top_categories as (

    select
        user_id,
        category_l1 as top_category,
        affinity_share as top_category_share,

    from category_affinity
    where affinity_rank = 1

),

final as (

    select
        segments.user_id,
        segments.segment,
        segments.recency_days,
        segments.frequency,
        segments.monetary,
        segments.recency_score,
        segments.frequency_score,
        segments.monetary_score,
        segments.days_since_first_seen,
        segments.days_since_last_purchase,
        coalesce(user_events.engagement_score, 0) as engagement_score,
        coalesce(user_events.count_events, 0) as count_events,
        coalesce(user_events.count_views, 0) as count_views,
        coalesce(user_events.count_carts, 0) as count_carts,
        coalesce(user_events.count_purchases, 0) as count_purchases,
        user_events.avg_dwell_seconds,
        coalesce(user_events.total_dwell_seconds, 0) as total_dwell_seconds,
        coalesce(user_sessions.count_sessions, 0) as count_sessions,
        coalesce(user_sessions.count_purchase_sessions, 0) as count_purchase_sessions,
        user_sessions.count_purchase_sessions
            / nullif(user_sessions.count_sessions, 0) as conversion_rate,
        coalesce(user_sessions.cart_abandonment_count, 0) as cart_abandonment_count,
        user_prices.price_sensitivity,
        top_categories.top_category,
        top_categories.top_category_share,
        customers.has_profile,
        customers.consent_personalization,

    from segments
    inner join customers
        on segments.user_id = customers.user_id
    left join user_events
        on segments.user_id = user_events.user_id
    left join user_sessions
        on segments.user_id = user_sessions.user_id
    left join user_prices
        on segments.user_id = user_prices.user_id
    left join top_categories
        on segments.user_id = top_categories.user_id

)

select * from final
