{#- True for anonymous baskets: user ids starting with var('guest_prefix') (ml.schema.GUEST_PREFIX). -#}
{% macro is_guest(user_id_column) -%}
    coalesce(starts_with({{ user_id_column }}, '{{ var("guest_prefix") }}'), false)
{%- endmacro %}
