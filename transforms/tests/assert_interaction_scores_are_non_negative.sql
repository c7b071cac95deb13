-- Scores are clipped at 0: negative feedback (removes, returns) may cancel interest but never
-- produce a negative score. Returns the offending rows. (The models' own confidence,
-- ml_pit_user_item_features.ui_confidence, and popularity are gated by their GE suites.)
with

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

    select * from users
    union all
    select * from affinities

)

select *
from final
where score is null or score < 0
