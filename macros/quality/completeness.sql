{#- The raw tables whose source YAML declares `completeness: rows_every_day` (a feed with activity every day), as
    `source.table` names in YAML order (empty while dbt parses). fct_feed_completeness_daily checks each. -#}
{% macro daily_feeds() %}
    {%- if not execute -%}
        {{- return([]) -}}
    {%- endif -%}
    {%- set found = [] -%}
    {%- for node in graph.sources.values() | sort(attribute='unique_id') -%}
        {%- if node.meta.get('completeness') == 'rows_every_day' -%}
            {%- do found.append(node.source_name ~ '.' ~ node.name) -%}
        {%- endif -%}
    {%- endfor -%}
    {{- return(found) -}}
{% endmacro %}
