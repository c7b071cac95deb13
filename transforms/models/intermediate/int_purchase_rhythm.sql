{{ config(materialized="table") }}

-- One row: how often the shop's customers come back to buy, and the defaults derived from it
-- (decay half-life, calendar window lengths) wherever a var does not set them.
with

events as (

    select * from {{ ref('stg_shop__events') }}

),

baskets as (

    -- a basket as ml.data.EventLog counts one: the order, else the session, else the day
    select
        user_id,
        coalesce(order_id, session_id, cast(cast(occurred_at as date) as varchar)) as basket_id,
        min(occurred_at) as bought_at,
    from events
    where event_type = 'purchase' and not is_guest and user_id is not null
    group by 1, 2

),

gaps as (

    select
        date_diff('millisecond', lag(bought_at) over (partition by user_id order by bought_at),
                  bought_at) / 86400000.0 as gap_days,
    from baskets

),

rhythm as (

    select
        median(gap_days) filter (where gap_days > 0) as median_gap_days,
        count(gap_days) filter (where gap_days > 0) as repeat_gaps,
    from gaps

),

final as (

    select
        median_gap_days,
        repeat_gaps,
        {% if var('decay_half_life_days') is none -%}
        -- an older purchase two typical gaps back keeps half its weight
        coalesce(least(greatest(2 * median_gap_days, 7), 365), 30)
        {%- else -%}
        {{ var('decay_half_life_days') }}
        {%- endif %} as decay_half_life_days,
        {% if var('validation_days') is none -%}
        -- a window as long as the typical gap holds one return visit of a typical customer
        cast(coalesce(least(greatest(ceil(median_gap_days), 7), 60), 14) as integer)
        {%- else -%}
        {{ var('validation_days') }}
        {%- endif %} as validation_days,
        {% if var('test_days') is none -%}
        cast(coalesce(least(greatest(ceil(median_gap_days), 7), 60), 14) as integer)
        {%- else -%}
        {{ var('test_days') }}
        {%- endif %} as test_days,
    from rhythm

)

select * from final
