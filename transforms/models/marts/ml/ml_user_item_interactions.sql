with

interactions as (

    select * from {{ ref('fct_interactions') }}

),

user_actions as (

    -- impressions are exposure chosen by the recommender, not the user's interest
    select *
    from interactions
    where event_type != 'impression'

),

aggregated as (

    select
        user_id,
        item_id,
        bool_or(is_guest) as is_guest,
        greatest(sum(decayed_weight), 0) as interaction_score,
        sum(weight) as total_weight,
        count(*) as count_events,
        count(*) filter (where event_type = 'view') as count_views,
        count(*) filter (where event_type = 'click') as count_clicks,
        count(*) filter (where event_type = 'add_to_cart') as count_carts,
        count(*) filter (where event_type = 'purchase') as count_purchases,
        count(*) filter (where event_type = 'return') as count_returns,
        min(occurred_at) as first_interaction_at,
        max(occurred_at) as last_interaction_at,

    from user_actions
    group by user_id, item_id

),

final as (

    select * from aggregated

)

select * from final
