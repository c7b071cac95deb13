with

loads as (

    select as_of from {{ ref('stg_shop__loads') }}

),

interactions as (

    select * from {{ ref('fct_interactions') }}

),

rhythm as (

    select * from {{ ref('int_purchase_rhythm') }}

),

history as (

    select min(occurred_at) as first_event_at from interactions

),

windows as (

    select
        loads.as_of,
        history.first_event_at,
        rhythm.median_gap_days,
        rhythm.validation_days,
        rhythm.test_days,
        rhythm.decay_half_life_days,
        loads.as_of - to_days(rhythm.test_days) as test_start,
        loads.as_of - to_days(rhythm.test_days) - to_days(rhythm.validation_days)
            as validation_start,

    from loads
    cross join history
    cross join rhythm

),

final as (

    select
        as_of,
        {% if var('train_days') is none -%}
        least(first_event_at, validation_start) as train_start,
        {%- else -%}
        validation_start - interval ({{ var('train_days') }}) day as train_start,
        {%- endif %}
        validation_start,
        test_start,
        as_of as test_end,
        validation_days,
        test_days,
        decay_half_life_days,
        median_gap_days,

    from windows

)

select * from final
