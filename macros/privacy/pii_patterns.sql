{#- TEMPORARY STUB (issue 11, point 3 work): replaced at merge by the shared personal-data patterns (point 1).
    True where the text `expr` holds anything shaped like personal data, by today's content patterns
    (var privacy_guard.content_patterns in dbt_project.yml), through the dispatched regex_matches. -#}
{% macro pii_text_matches(expr) -%}
    {%- set checks = [] -%}
    {%- for kind, pattern in var('privacy_guard').content_patterns.items() -%}
        {%- do checks.append(regex_matches(expr, pattern)) -%}
    {%- endfor -%}
    ({{ checks | join(' or ') }})
{%- endmacro %}
