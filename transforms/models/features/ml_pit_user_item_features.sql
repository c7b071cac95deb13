-- What a user did with an item before their cutoff: the confidence every source learns from
-- (decayed event-type weights, never below 0), decayed and counted purchases, recency.

with

events as (

    select * from {{ ref('ml_pit_events') }}

),

rhythm as (

    select decay_half_life_days from {{ ref('ml_temporal_split') }}

),

final as (

    select
        events.cutoff_id,
        events.user_id,
        events.item_id,
        greatest(sum({{ decayed('events.weight', 'events.age_days', 'rhythm.decay_half_life_days') }}), 0)
            as ui_confidence,
        coalesce(sum({{ decayed('1.0', 'events.age_days', 'rhythm.decay_half_life_days') }})
            filter (where events.event_type = 'purchase'), 0) as ui_decayed_purchases,
        count(*) filter (where events.event_type = 'purchase') as ui_purchases,
        min(events.age_days) as ui_days_since_last,

    from events
    cross join rhythm
    group by events.cutoff_id, events.user_id, events.item_id

)

select * from final
