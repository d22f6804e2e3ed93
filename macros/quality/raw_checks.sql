{#- Checks on raw rows derived from the source YAML, where each column's `meta.required` and `meta.parses_as`
    are declared once. Staging models use them to give a row its reject reason. -#}

{#- The declared columns of a source table, in YAML order (empty while dbt parses). -#}
{% macro raw_table_columns(source_name, table_name) %}
    {%- if not execute -%}
        {{- return([]) -}}
    {%- endif -%}
    {%- set node = graph.sources['source.' ~ project_name ~ '.' ~ source_name ~ '.' ~ table_name] -%}
    {{- return(node.columns.values() | list) -}}
{% endmacro %}


{#- True where any required column is blank (text) or null (typed). -#}
{% macro missing_required(source_name, table_name, relation='source') -%}
    {%- set checks = [] -%}
    {%- for column in raw_table_columns(source_name, table_name) if column.meta.get('required') -%}
        {%- set ref = relation ~ '.' ~ column.name -%}
        {%- do checks.append(is_blank(ref) if column.data_type == 'string' else '(' ~ ref ~ ' is null)') -%}
    {%- endfor -%}
    ({{ checks | join('\n        or ') if checks else 'false' }})
{%- endmacro %}


{#- True where any text column declared to parse as a type holds a value that does not. -#}
{% macro wrong_type(source_name, table_name, relation='source') -%}
    {%- set checks = [] -%}
    {%- for column in raw_table_columns(source_name, table_name) if column.meta.get('parses_as') -%}
        {%- set ref = relation ~ '.' ~ column.name -%}
        {%- do checks.append(
            '(' ~ safe_cast(ref, column.meta['parses_as']) ~ ' is null and not ' ~ is_blank(ref) ~ ')'
        ) -%}
    {%- endfor -%}
    ({{ checks | join('\n        or ') if checks else 'false' }})
{%- endmacro %}
