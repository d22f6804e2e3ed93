{#- True where `expr` matches the regular expression `pattern` (anchor it with ^…$ for a full match). -#}
{% macro regex_matches(expr, pattern) %}
    {{- return(adapter.dispatch('regex_matches', 'taglake')(expr, pattern)) -}}
{% endmacro %}

{% macro default__regex_matches(expr, pattern) -%}
    regexp_matches({{ expr }}, '{{ pattern }}')
{%- endmacro %}

{% macro athena__regex_matches(expr, pattern) -%}
    regexp_like({{ expr }}, '{{ pattern }}')
{%- endmacro %}

{% macro redshift__regex_matches(expr, pattern) -%}
    ({{ expr }} ~ '{{ pattern }}')
{%- endmacro %}


{#- The `group`-th capture group of the first match of `pattern` in `expr`, or null. -#}
{% macro regex_extract(expr, pattern, group) %}
    {{- return(adapter.dispatch('regex_extract', 'taglake')(expr, pattern, group)) -}}
{% endmacro %}

{% macro default__regex_extract(expr, pattern, group) -%}
    nullif(regexp_extract({{ expr }}, '{{ pattern }}', {{ group }}), '')
{%- endmacro %}

{% macro athena__regex_extract(expr, pattern, group) -%}
    regexp_extract({{ expr }}, '{{ pattern }}', {{ group }})
{%- endmacro %}

{% macro redshift__regex_extract(expr, pattern, group) -%}
    {#- REGEXP_SUBSTR's 'e' parameter returns the first capture group only. -#}
    {%- if group != 1 -%}
        {{ exceptions.raise_compiler_error('regex_extract on Redshift supports capture group 1 only') }}
    {%- endif -%}
    nullif(regexp_substr({{ expr }}, '{{ pattern }}', 1, 1, 'e'), '')
{%- endmacro %}


{#- `expr` with every match of `pattern` replaced by `replacement`. -#}
{% macro regex_replace_all(expr, pattern, replacement) %}
    {{- return(adapter.dispatch('regex_replace_all', 'taglake')(expr, pattern, replacement)) -}}
{% endmacro %}

{% macro default__regex_replace_all(expr, pattern, replacement) -%}
    regexp_replace({{ expr }}, '{{ pattern }}', '{{ replacement }}', 'g')
{%- endmacro %}

{% macro athena__regex_replace_all(expr, pattern, replacement) -%}
    regexp_replace({{ expr }}, '{{ pattern }}', '{{ replacement }}')
{%- endmacro %}

{% macro redshift__regex_replace_all(expr, pattern, replacement) -%}
    regexp_replace({{ expr }}, '{{ pattern }}', '{{ replacement }}')
{%- endmacro %}
