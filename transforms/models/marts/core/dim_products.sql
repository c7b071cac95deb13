with

products as (

    select * from {{ ref('stg_shop__products') }}

),

events as (

    select * from {{ ref('stg_shop__events') }}

),

event_items as (

    select
        item_id,
        median(price) as median_event_price,

    from events
    group by item_id

),

joined as (

    -- every catalogue product, plus the items only seen in events (id and event price only)
    select
        coalesce(products.item_id, event_items.item_id) as item_id,
        products.item_id is not null as is_in_catalog,
        products.title,
        products.description,
        products.category_path,
        products.category_l1,
        products.category_leaf,
        products.brand,
        coalesce(products.price, event_items.median_event_price) as price,
        products.is_in_stock,
        products.created_at,

    from products
    full outer join event_items
        on products.item_id = event_items.item_id

),

final as (

    select * from joined

)

select * from final
