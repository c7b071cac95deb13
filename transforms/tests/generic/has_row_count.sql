{#- Fails unless the model has exactly `expected` rows. -#}
{% test has_row_count(model, expected) %}

select count(*) as count_rows
from {{ model }}
having count(*) != {{ expected }}

{% endtest %}
