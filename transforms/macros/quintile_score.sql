{#-
    A 1-5 score from the rank of `order_by` among all rows (5 = top fifth), like ntile(5) but tie-safe:
    equal values always get the same score (ntile splits ties arbitrarily, making scores
    non-deterministic), and a large block of ties at the bottom (e.g. frequency = 0) stays at 1.
    Rows whose value is null get score 1.
-#}
{% macro quintile_score(order_by, direction='asc') -%}
    case
        when {{ order_by }} is null then 1
        else least(5, 1 + floor(5 * percent_rank() over (
            partition by ({{ order_by }} is null)
            order by {{ order_by }} {{ direction }}
        )))::integer
    end
{%- endmacro %}
