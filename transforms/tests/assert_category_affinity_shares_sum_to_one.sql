-- Each user's category affinity shares add up to 1 (within floating-point tolerance).
select
    user_id,
    sum(affinity_share) as total_share,
from {{ ref('ml_user_category_affinity') }}
group by user_id
having abs(sum(affinity_share) - 1) > 1e-9
