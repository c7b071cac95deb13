with

customers as (

    select * from {{ ref('dim_customers') }}

),

interactions as (

    select * from {{ ref('fct_interactions') }}

),

loads as (

    select as_of from {{ ref('stg_shop__loads') }}

),

user_activity as (

    select
        user_id,
        max(occurred_at) filter (where event_type != 'impression') as last_active_at,
        max(occurred_at) filter (where event_type = 'purchase') as last_purchased_at,
        -- an order is its order_id, else its session, else the user's purchases of that day
        count(distinct coalesce(
            order_id,
            'session:' || session_id,
            'day:' || strftime(occurred_at, '%Y-%m-%d')
        )) filter (where event_type = 'purchase') as frequency,
        sum(price * quantity) filter (where event_type = 'purchase') as monetary,

    from interactions
    where not is_guest
    group by user_id

),

rfm as (

    select
        customers.user_id,
        customers.has_profile,
        customers.first_seen_at,
        {{ age_days('customers.first_seen_at', 'loads.as_of') }} as days_since_first_seen,
        {{ age_days('user_activity.last_active_at', 'loads.as_of') }} as recency_days,
        {{ age_days('user_activity.last_purchased_at', 'loads.as_of') }} as days_since_last_purchase,
        coalesce(user_activity.frequency, 0) as frequency,
        coalesce(user_activity.monetary, 0) as monetary,

    from customers
    cross join loads
    left join user_activity
        on customers.user_id = user_activity.user_id
    where not customers.is_guest

),

scored as (

    select
        *,
        {{ quintile_score('recency_days', 'desc') }} as recency_score,
        {{ quintile_score('frequency') }} as frequency_score,
        {{ quintile_score('monetary') }} as monetary_score,

    from rfm

),

segmented as (

    -- rules apply in this order; the first that matches wins
    select
        *,
        case
            when days_since_first_seen <= {{ var('segment_new_days') }} then 'new'
            when recency_days is null then 'churned'
            when recency_days > {{ var('segment_churned_days') }} then 'churned'
            when recency_days > {{ var('segment_at_risk_days') }} then 'at_risk'
            when frequency_score >= {{ var('segment_loyal_min_frequency_score') }} then 'loyal'
            else 'active'
        end as segment,

    from scored

),

final as (

    select
        user_id,
        segment,
        recency_days,
        frequency,
        monetary,
        recency_score,
        frequency_score,
        monetary_score,
        days_since_first_seen,
        days_since_last_purchase,
        first_seen_at,
        has_profile,

    from segmented

)

select * from final
