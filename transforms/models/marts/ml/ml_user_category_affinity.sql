with

interactions as (

    select * from {{ ref('fct_interactions') }}

),

products as (

    select * from {{ ref('dim_products') }}

),

user_actions as (

    select
        interactions.user_id,
        coalesce(products.category_l1, 'unknown') as category_l1,
        interactions.decayed_weight,

    from interactions
    left join products
        on interactions.item_id = products.item_id
    where not interactions.is_guest
        and interactions.event_type != 'impression'

),

per_category as (

    select
        user_id,
        category_l1,
        greatest(sum(decayed_weight), 0) as affinity_score,
        count(*) as count_events,

    from user_actions
    group by user_id, category_l1

),

positive as (

    select *
    from per_category
    where affinity_score > 0

),

final as (

    select
        user_id,
        category_l1,
        affinity_score,
        affinity_score / sum(affinity_score) over (partition by user_id) as affinity_share,
        row_number() over (
            partition by user_id
            order by affinity_score desc, category_l1
        ) as affinity_rank,
        count_events,

    from positive

)

select * from final
