with

loads as (

    select as_of from {{ ref('stg_shop__loads') }}

),

interactions as (

    select * from {{ ref('fct_interactions') }}

),

history as (

    select min(occurred_at) as first_event_at from interactions

),

windows as (

    select
        loads.as_of,
        history.first_event_at,
        loads.as_of - interval ({{ var('test_days') }}) day as test_start,
        loads.as_of
            - interval ({{ var('test_days') }}) day
            - interval ({{ var('validation_days') }}) day as validation_start,

    from loads
    cross join history

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
        {{ var('validation_days') }} as validation_days,
        {{ var('test_days') }} as test_days,
        {{ var('decay_half_life_days') }} as decay_half_life_days,

    from windows

)

select * from final
