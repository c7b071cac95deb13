-- An item at the shop's cutoff: decayed popularity and trending (the scores the popularity,
-- trending and segment sources rank by, and their logs for the re-ranker), purchases, views,
-- conversion, repeat buyers, price and age. One row per cutoff and catalog item.

with

cutoffs as (

    select
        cutoff_id,
        any_value(shop_cutoff_seconds) as shop_cutoff_seconds,

    from {{ source('features', 'cutoffs') }}
    group by cutoff_id

),

products as (

    select * from {{ ref('dim_products') }}

),

events as (

    select * from {{ ref('ml_pit_events') }}

),

user_items as (

    select * from {{ ref('ml_pit_user_item_features') }}

),

rhythm as (

    select decay_half_life_days from {{ ref('ml_temporal_split') }}

),

activity as (

    -- guests count: anonymous baskets are evidence of popularity
    select
        events.cutoff_id,
        events.item_id,
        sum({{ decayed('greatest(events.weight, 0)', 'events.shop_age_days', 'rhythm.decay_half_life_days') }})
            as popularity_score,
        sum({{ decayed('greatest(events.weight, 0)', 'events.shop_age_days', var('trending_half_life_days')) }})
            as trending_score,
        count(*) filter (where events.event_type = 'purchase') as i_purchases,
        count(*) filter (where events.event_type = 'view') as i_views,

    from events
    cross join rhythm
    group by events.cutoff_id, events.item_id

),

repeat_buyers as (

    -- of the item's buyers, the share who bought it more than once
    select
        cutoff_id,
        item_id,
        avg(case when ui_purchases >= 2 then 1.0 else 0.0 end) as i_repeat_buyer_share,

    from user_items
    where ui_purchases > 0
    group by cutoff_id, item_id

),

final as (

    select
        cutoffs.cutoff_id,
        products.item_id,
        coalesce(activity.popularity_score, 0) as popularity_score,
        coalesce(activity.trending_score, 0) as trending_score,
        -- the re-ranker's view of them: log scale, as every model card since the first has it
        ln(1 + coalesce(activity.popularity_score, 0)) as i_popularity,
        ln(1 + coalesce(activity.trending_score, 0)) as i_trending,
        coalesce(activity.i_purchases, 0) as i_purchases,
        coalesce(activity.i_views, 0) as i_views,
        case
            when activity.i_views > 0 then activity.i_purchases / activity.i_views
        end as i_conversion,
        repeat_buyers.i_repeat_buyer_share,
        products.price as i_price,
        case
            when epoch_us(products.created_at) > 0
                then (cutoffs.shop_cutoff_seconds - epoch_us(products.created_at) / 1e6) / 86400.0
        end as i_age_days,

    from cutoffs
    cross join products
    left join activity
        on cutoffs.cutoff_id = activity.cutoff_id and products.item_id = activity.item_id
    left join repeat_buyers
        on cutoffs.cutoff_id = repeat_buyers.cutoff_id and products.item_id = repeat_buyers.item_id

)

select * from final
