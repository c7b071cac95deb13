with

source as (

    select * from {{ source('raw', 'products') }}

),

renamed as (

    select
        cast(item_id as varchar) as item_id,
        cast(title as varchar) as title,
        cast(description as varchar) as description,
        nullif(trim(cast(category_path as varchar)), '') as category_path,
        cast(brand as varchar) as brand,
        cast(price as double) as price,
        cast(in_stock as boolean) as is_in_stock,
        cast(created_at as timestamp) as created_at,

    from source

),

categorised as (

    -- category_path levels are separated by ' > ' (ml.schema.CATEGORY_SEPARATOR); split on '>' and trim
    -- so that 'home>kitchen' is read the same way
    select
        *,
        nullif(trim(split_part(category_path, '>', 1)), '') as category_l1,
        nullif(trim(string_split(category_path, '>')[-1]), '') as category_leaf,

    from renamed

),

final as (

    -- ids are unique after validation; keep one row per item anyway (the most recently created)
    select *
    from categorised
    qualify row_number() over (
        partition by item_id
        order by created_at desc nulls last, title, price
    ) = 1

)

select * from final
