{#- JSON text functions differ by engine: DuckDB json_*, Athena (Trino) json_extract_scalar, Redshift
    json_extract_path_text. `path` is a list of keys, outermost first. -#}

{% macro json_is_valid(expr) %}
    {{- return(adapter.dispatch('json_is_valid', 'taglake')(expr)) -}}
{% endmacro %}

{% macro default__json_is_valid(expr) -%}
    coalesce(json_valid({{ expr }}), false)
{%- endmacro %}

{% macro athena__json_is_valid(expr) -%}
    (try(json_parse({{ expr }})) is not null)
{%- endmacro %}

{% macro redshift__json_is_valid(expr) -%}
    coalesce(is_valid_json({{ expr }}), false)
{%- endmacro %}


{#- The scalar at `path` as text; null when absent or null. Callers check json_is_valid first. -#}
{% macro json_text(expr, path) %}
    {{- return(adapter.dispatch('json_text', 'taglake')(expr, path)) -}}
{% endmacro %}

{% macro default__json_text(expr, path) -%}
    json_extract_string({{ expr }}, '$.{{ path | join(".") }}')
{%- endmacro %}

{% macro athena__json_text(expr, path) -%}
    json_extract_scalar({{ expr }}, '$.{{ path | join(".") }}')
{%- endmacro %}

{% macro redshift__json_text(expr, path) -%}
    json_extract_path_text({{ expr }}, '{{ path | join("', '") }}', true)
{%- endmacro %}
