{%- set q_low, q_high = var('price_band_quantiles') -%}

with

products as (

    select * from {{ ref('dim_products') }}

),

interactions as (

    select * from {{ ref('fct_interactions') }}

),

loads as (

    select as_of from {{ ref('stg_shop__loads') }}

),

item_activity as (

    -- guests count here: anonymous baskets are evidence of popularity
    select
        item_id,
        count(distinct user_id) filter (where event_type != 'impression') as count_users,
        greatest(coalesce(sum(decayed_weight), 0), 0) as popularity_score,
        count(*) filter (where event_type = 'impression') as count_impressions,
        count(*) filter (where event_type = 'view') as count_views,
        count(*) filter (where event_type = 'click') as count_clicks,
        count(*) filter (where event_type = 'add_to_cart') as count_carts,
        count(*) filter (where event_type = 'purchase') as count_purchases,
        count(*) filter (where event_type = 'return') as count_returns,
        min(occurred_at) as first_interaction_at,
        max(occurred_at) filter (where event_type = 'purchase') as last_purchased_at,

    from interactions
    group by item_id

),

categorised as (

    select
        *,
        coalesce(category_l1, 'unknown') as price_category,

    from products

),

category_prices as (

    select
        price_category,
        quantile_cont(price, {{ q_low }}) as price_low_cut,
        quantile_cont(price, {{ q_high }}) as price_high_cut,
        median(price) as category_median_price,

    from categorised
    where price is not null
    group by price_category

),

joined as (

    select
        categorised.item_id,
        categorised.is_in_catalog,
        categorised.category_l1,
        categorised.brand,
        categorised.is_in_stock,
        categorised.price,
        category_prices.category_median_price,
        categorised.price / nullif(category_prices.category_median_price, 0) as price_relative_to_category,
        case
            when categorised.price is null then null
            when categorised.price < category_prices.price_low_cut then 'budget'
            when categorised.price > category_prices.price_high_cut then 'premium'
            else 'mid'
        end as price_band,
        coalesce(item_activity.count_users, 0) as count_users,
        coalesce(item_activity.popularity_score, 0) as popularity_score,
        coalesce(item_activity.count_impressions, 0) as count_impressions,
        coalesce(item_activity.count_views, 0) as count_views,
        coalesce(item_activity.count_clicks, 0) as count_clicks,
        coalesce(item_activity.count_carts, 0) as count_carts,
        coalesce(item_activity.count_purchases, 0) as count_purchases,
        coalesce(item_activity.count_returns, 0) as count_returns,
        coalesce(categorised.created_at, item_activity.first_interaction_at) as created_at,
        item_activity.last_purchased_at,
        loads.as_of,

    from categorised
    cross join loads
    left join item_activity
        on categorised.item_id = item_activity.item_id
    left join category_prices
        on categorised.price_category = category_prices.price_category

),

final as (

    select
        item_id,
        is_in_catalog,
        category_l1,
        brand,
        is_in_stock,
        price,
        price_band,
        category_median_price,
        price_relative_to_category,
        count_users,
        popularity_score,
        count_impressions,
        count_views,
        count_clicks,
        count_carts,
        count_purchases,
        count_returns,
        count_purchases / nullif(count_views, 0) as conversion_rate,
        count_carts / nullif(count_views, 0) as cart_rate,
        count_clicks / nullif(count_impressions, 0) as click_through_rate,
        {{ age_days('created_at', 'as_of') }} as days_since_created,
        {{ age_days('last_purchased_at', 'as_of') }} as days_since_last_purchase,

    from joined

)

select * from final
