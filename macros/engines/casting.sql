{#- Cast text to a type, null when it does not parse (and for blank text, which Redshift's TRY_CAST rejects).
    Staging uses it to type raw text; a null result where the text was not blank is a `wrong_type` reject.
    Full-width digits and signs are read as their ASCII forms first (ascii_numerals: `１２３４．５` is 1234.5). -#}
{% macro cast_text(expr, type) %}
    {{- return(adapter.dispatch('cast_text', 'taglake')(expr, type)) -}}
{% endmacro %}

{% macro default__cast_text(expr, type) -%}
    try_cast(nullif(trim({{ ascii_numerals(expr) }}), '') as {{ type }})
{%- endmacro %}

{#- True where two expressions are equal or both null (a join on key columns that may be null). -#}
{% macro null_safe_equals(left, right) %}
    {{ return(adapter.dispatch('null_safe_equals', 'taglake')(left, right)) }}
{% endmacro %}

{% macro default__null_safe_equals(left, right) -%}
    {{ left }} is not distinct from {{ right }}
{%- endmacro %}

{#- Redshift has no IS NOT DISTINCT FROM. -#}
{% macro redshift__null_safe_equals(left, right) -%}
    ({{ left }} = {{ right }} or ({{ left }} is null and {{ right }} is null))
{%- endmacro %}
