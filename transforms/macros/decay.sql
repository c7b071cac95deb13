{#-
    Age in fractional days of `occurred_at` at `as_of`, floored at 0; null when `occurred_at` is null
    (DuckDB's greatest() skips nulls, hence the explicit case).
-#}
{% macro age_days(occurred_at, as_of) -%}
    case
        when {{ occurred_at }} is null then null
        else greatest(date_diff('millisecond', {{ occurred_at }}, {{ as_of }}) / 86400000.0, 0)
    end
{%- endmacro %}

{#- Exponential time decay: `weight` halves every `half_life_days` days of age
    (int_purchase_rhythm.decay_half_life_days). -#}
{% macro decayed(weight, age_days, half_life_days) -%}
    {{ weight }} * exp(-ln(2) * {{ age_days }} / {{ half_life_days }})
{%- endmacro %}
