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


{#- A JSON text's values at several key paths, parsed once: what json_field reads. DuckDB extracts every path in one
    call (a list of texts, in `paths` order); Athena and Redshift keep the text, and json_field reads each path. -#}
{% macro json_fields(expr, paths) %}
    {{- return(adapter.dispatch('json_fields', 'taglake')(expr, paths)) -}}
{% endmacro %}

{% macro default__json_fields(expr, paths) -%}
    json_extract_string({{ expr }}, [{% for path in paths %}'$.{{ path | join(".") }}'{{ ', ' if not loop.last }}{% endfor %}])
{%- endmacro %}

{% macro athena__json_fields(expr, paths) -%}
    {{ expr }}
{%- endmacro %}

{% macro redshift__json_fields(expr, paths) -%}
    {{ expr }}
{%- endmacro %}


{#- The value at `path` (one of `paths`) of a json_fields column, as text: what json_text gives for that path. -#}
{% macro json_field(fields, paths, path) %}
    {%- if not execute -%}
        {{- return('null') -}}
    {%- elif path not in paths -%}
        {{ exceptions.raise_compiler_error('json_field: ' ~ (path | join('.')) ~ ' is not among the paths parsed') }}
    {%- endif -%}
    {{- return(adapter.dispatch('json_field', 'taglake')(fields, paths, path)) -}}
{% endmacro %}

{% macro default__json_field(fields, paths, path) -%}
    {{ fields }}[{{ paths.index(path) + 1 }}]
{%- endmacro %}

{% macro athena__json_field(fields, paths, path) -%}
    {{ json_text(fields, path) }}
{%- endmacro %}

{% macro redshift__json_field(fields, paths, path) -%}
    {{ json_text(fields, path) }}
{%- endmacro %}
