{#- The columns of one tag assignment, the same for every rule, so the family models union cleanly:
    customer_token, tag_code, tag_value, tag_score, evidence, as_of_date. Reads the rule model's `features` CTE. -#}
{% macro tag_assignment(tag_code, evidence, value="'Y'", score=none) -%}
    customer_token,
    cast('{{ tag_code }}' as varchar) as tag_code,
    cast({{ value }} as varchar) as tag_value,
    cast({{ score if score is not none else 'null' }} as {{ type_double() }}) as tag_score,
    {{ tag_evidence(evidence) }} as evidence,
    as_of_date
{%- endmacro %}

{#- Evidence for a tag: `name=value` pairs joined by '; ', each value formatted alike on every engine (amounts
    and shares as decimal(18, 2), counts and days as integers, codes as text; a null shows as `none`). `items` is
    a list of [name, sql expression, 'amount' | 'count' | 'text']. -#}
{% macro tag_evidence(items) -%}
    {%- set parts = [] -%}
    {%- for name, expr, kind in items -%}
        {%- set as_text -%}
            {%- if kind == 'count' -%}
                cast(cast({{ expr }} as bigint) as varchar)
            {%- elif kind == 'text' -%}
                cast({{ expr }} as varchar)
            {%- else -%}
                cast(cast({{ expr }} as decimal(18, 2)) as varchar)
            {%- endif -%}
        {%- endset -%}
        {%- do parts.append("'" ~ name ~ "=' || coalesce(" ~ as_text ~ ", 'none')") -%}
    {%- endfor -%}
    cast({{ parts | join(" || '; ' || ") }} as varchar)
{%- endmacro %}

{#- The yes/no tag columns of the tag profile, as [column name, tag code] pairs, read from the profile's YAML
    (`meta.tag_code`) — the contract is the one list. Empty while dbt parses. -#}
{% macro tag_profile_columns(version=1) -%}
    {%- set found = [] -%}
    {%- if execute -%}
        {%- for node in graph.nodes.values()
            if node.resource_type == 'model' and node.name == 'customer_tag_profile'
            and (node.version | string) == (version | string) -%}
            {%- for column in node.columns.values() if column.meta.get('tag_code') -%}
                {%- do found.append([column.name, column.meta['tag_code']]) -%}
            {%- endfor -%}
        {%- endfor -%}
    {%- endif -%}
    {{- return(found) -}}
{%- endmacro %}
