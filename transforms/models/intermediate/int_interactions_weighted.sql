with

events as (

    select * from {{ ref('stg_shop__events') }}

),

event_type_weights as (

    select * from {{ ref('event_type_weights') }}

),

loads as (

    select as_of from {{ ref('stg_shop__loads') }}

),

rhythm as (

    select decay_half_life_days from {{ ref('int_purchase_rhythm') }}

),

aged as (

    select
        events.*,
        {{ age_days('events.occurred_at', 'loads.as_of') }} as age_days,

    from events
    cross join loads

),

weighted as (

    select
        aged.*,
        coalesce(event_type_weights.weight, 0) as weight,
        {{ decayed('coalesce(event_type_weights.weight, 0)', 'aged.age_days',
                   'rhythm.decay_half_life_days') }} as decayed_weight,

    from aged
    cross join rhythm
    left join event_type_weights
        on aged.event_type = event_type_weights.event_type

),

final as (

    select * from weighted

)

select * from final
