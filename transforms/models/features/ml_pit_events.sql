-- Every event each cutoff lets a model see: a user's interactions strictly before their cutoff,
-- on catalog items, with the event's age at the user's cutoff and at the shop's. Exposures
-- (impression: a recommendation was shown) say nothing of taste and are left out, as the online
-- profiles leave them out (ml/online/profile.py INTERACTIONS).

with

cutoffs as (

    select * from {{ source('features', 'cutoffs') }}

),

interactions as (

    select * from {{ ref('fct_interactions') }}

),

products as (

    select item_id, coalesce(category_l1, 'unknown') as category from {{ ref('dim_products') }}

),

timed as (

    -- seconds as ml.data.EventLog counts them (microseconds / 1e6), so both sides of a cutoff agree
    select
        interactions.user_id,
        interactions.item_id,
        products.category,
        interactions.event_type,
        interactions.weight,
        interactions.price,
        coalesce(interactions.quantity, 1) as quantity,
        epoch_us(interactions.occurred_at) / 1e6 as occurred_seconds,

    from interactions
    inner join products
        on interactions.item_id = products.item_id
    where interactions.event_type != 'impression'

),

final as (

    select
        cutoffs.cutoff_id,
        timed.user_id,
        timed.item_id,
        timed.category,
        timed.event_type,
        timed.weight,
        timed.price,
        timed.quantity,
        (cutoffs.cutoff_seconds - timed.occurred_seconds) / 86400.0 as age_days,
        (cutoffs.shop_cutoff_seconds - timed.occurred_seconds) / 86400.0 as shop_age_days,

    from timed
    inner join cutoffs
        on timed.user_id = cutoffs.user_id
        and timed.occurred_seconds < cutoffs.cutoff_seconds

)

select * from final
