-- A user's profile at their cutoff (RFM and engagement): one row per cutoff and user of the log,
-- users with nothing visible included (counts 0, the rest null).

with

cutoffs as (

    select * from {{ source('features', 'cutoffs') }}

),

events as (

    select * from {{ ref('ml_pit_events') }}

),

user_items as (

    select * from {{ ref('ml_pit_user_item_features') }}

),

activity as (

    select
        cutoff_id,
        user_id,
        count(*) as u_events,
        count(*) filter (where event_type = 'purchase') as u_purchases,
        min(age_days) as u_days_since_last,
        coalesce(sum(coalesce(price, 0) * quantity) filter (where event_type = 'purchase'), 0)
            as u_monetary,
        avg(price) filter (where event_type = 'purchase' and price is not null) as u_avg_price,
        -- what u_avg_price averages over: serving adds live purchases to the average with it
        count(price) filter (where event_type = 'purchase') as u_priced_purchases,

    from events
    group by cutoff_id, user_id

),

repeats as (

    -- of the items a user bought, the share bought more than once
    select
        cutoff_id,
        user_id,
        avg(case when ui_purchases >= 2 then 1.0 else 0.0 end) as u_repeat_item_share,

    from user_items
    where ui_purchases > 0
    group by cutoff_id, user_id

),

final as (

    select
        cutoffs.cutoff_id,
        cutoffs.user_id,
        coalesce(activity.u_events, 0) as u_events,
        coalesce(activity.u_purchases, 0) as u_purchases,
        activity.u_days_since_last,
        coalesce(activity.u_monetary, 0) as u_monetary,
        activity.u_avg_price,
        repeats.u_repeat_item_share,
        coalesce(activity.u_priced_purchases, 0) as u_priced_purchases,

    from cutoffs
    left join activity
        on cutoffs.cutoff_id = activity.cutoff_id and cutoffs.user_id = activity.user_id
    left join repeats
        on cutoffs.cutoff_id = repeats.cutoff_id and cutoffs.user_id = repeats.user_id

)

select * from final
