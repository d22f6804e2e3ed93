{#- Lowercase hex SHA-256 of a text expression's UTF-8 bytes, identical on every engine. -#}
{% macro sha256_hex(expr) %}
    {{- return(adapter.dispatch('sha256_hex', 'taglake')(expr)) -}}
{% endmacro %}

{% macro default__sha256_hex(expr) -%}
    sha256({{ expr }})
{%- endmacro %}

{% macro athena__sha256_hex(expr) -%}
    lower(to_hex(sha256(to_utf8({{ expr }}))))
{%- endmacro %}

{% macro redshift__sha256_hex(expr) -%}
    lower(sha2({{ expr }}, 256))
{%- endmacro %}


{#- Only the digits of a text expression. -#}
{% macro digits_only(expr) %}
    {{- return(adapter.dispatch('digits_only', 'taglake')(expr)) -}}
{% endmacro %}

{% macro default__digits_only(expr) -%}
    regexp_replace({{ expr }}, '[^0-9]', '', 'g')
{%- endmacro %}

{% macro athena__digits_only(expr) -%}
    regexp_replace({{ expr }}, '[^0-9]', '')
{%- endmacro %}

{% macro redshift__digits_only(expr) -%}
    regexp_replace({{ expr }}, '[^0-9]', '')
{%- endmacro %}
