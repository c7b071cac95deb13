-- A user's interest in each category they touched before their cutoff: its share of their
-- confidence (the taste segment's input) and the days since their last event in it.

with

events as (

    select * from {{ ref('ml_pit_events') }}

),

user_items as (

    select * from {{ ref('ml_pit_user_item_features') }}

),

products as (

    select item_id, coalesce(category_l1, 'unknown') as category from {{ ref('dim_products') }}

),

recency as (

    select
        cutoff_id,
        user_id,
        category,
        min(age_days) as uc_days_since_last,

    from events
    group by cutoff_id, user_id, category

),

interest as (

    select
        user_items.cutoff_id,
        user_items.user_id,
        products.category,
        sum(user_items.ui_confidence) as confidence,

    from user_items
    inner join products
        on user_items.item_id = products.item_id
    group by user_items.cutoff_id, user_items.user_id, products.category

),

final as (

    select
        recency.cutoff_id,
        recency.user_id,
        recency.category,
        coalesce(
            interest.confidence
                / nullif(sum(interest.confidence) over (partition by recency.cutoff_id, recency.user_id), 0),
            0
        ) as uc_share,
        recency.uc_days_since_last,

    from recency
    left join interest
        on recency.cutoff_id = interest.cutoff_id
        and recency.user_id = interest.user_id
        and recency.category = interest.category

)

select * from final
