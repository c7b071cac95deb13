with

source as (

    select * from {{ source('raw', 'load_info') }}

),

renamed as (

    select
        cast(source as varchar) as source_name,
        cast(as_of as timestamp) as as_of,
        cast(loaded_at as timestamp) as loaded_at,

    from source

),

final as (

    -- raw.load_info holds exactly one row; should it ever hold more, the latest load wins
    select *
    from renamed
    qualify row_number() over (order by loaded_at desc nulls last, as_of desc) = 1

)

select * from final
