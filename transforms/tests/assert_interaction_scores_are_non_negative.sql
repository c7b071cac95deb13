-- Scores fed to ALS and the ranker are clipped at 0: negative feedback (removes, returns) may cancel
-- interest but never produce a negative confidence. Returns the offending rows.
with

user_items as (

    select
        'ml_user_item_interactions' as model_name,
        user_id || ' / ' || item_id as row_key,
        interaction_score as score,
    from {{ ref('ml_user_item_interactions') }}

),

items as (

    select
        'ml_item_features' as model_name,
        item_id as row_key,
        popularity_score as score,
    from {{ ref('ml_item_features') }}

),

users as (

    select
        'ml_user_features' as model_name,
        user_id as row_key,
        engagement_score as score,
    from {{ ref('ml_user_features') }}

),

affinities as (

    select
        'ml_user_category_affinity' as model_name,
        user_id || ' / ' || category_l1 as row_key,
        affinity_score as score,
    from {{ ref('ml_user_category_affinity') }}

),

final as (

    select * from user_items
    union all
    select * from items
    union all
    select * from users
    union all
    select * from affinities

)

select *
from final
where score is null or score < 0
