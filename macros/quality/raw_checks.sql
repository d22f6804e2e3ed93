{#- Checks on raw rows derived from the source YAML, where each column's (or JSON key's) `required` and
    `parses_as` are declared once. Staging models use them to give a row its reject reason; the generator reads the
    same declarations (taglake.core.sources). -#}

{#- The declared columns of a source table, in YAML order (empty while dbt parses). -#}
{% macro raw_table_columns(source_name, table_name) %}
    {%- if not execute -%}
        {{- return([]) -}}
    {%- endif -%}
    {%- set node = graph.sources['source.' ~ project_name ~ '.' ~ source_name ~ '.' ~ table_name] -%}
    {{- return(node.columns.values() | list) -}}
{% endmacro %}


{#- The keys a JSON-lines source table declares (`meta.json_keys`), each {name, required, parses_as, pii, …}. -#}
{% macro raw_json_keys(source_name, table_name) %}
    {%- if not execute -%}
        {{- return([]) -}}
    {%- endif -%}
    {%- set node = graph.sources['source.' ~ project_name ~ '.' ~ source_name ~ '.' ~ table_name] -%}
    {{- return(node.meta.get('json_keys', [])) -}}
{% endmacro %}


{#- Every key path of a JSON-lines table that staging reads, in declaration order: each declared key, then an object
    key's own keys (`fields`). A base model parses them once (json_fields(json_text, raw_json_paths(…)) as
    json_fields) and reads each through raw_json_key. -#}
{% macro raw_json_paths(source_name, table_name) %}
    {%- set paths = [] -%}
    {%- for key in raw_json_keys(source_name, table_name) -%}
        {%- do paths.append([key.name]) -%}
        {%- for sub in key.get('fields', []) -%}
            {%- do paths.append([key.name, sub.name]) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{- return(paths) -}}
{% endmacro %}


{#- A JSON-lines table's value at `path`, as text, from the json_fields column `relation.json_column`. -#}
{% macro raw_json_key(source_name, table_name, relation, json_column, path) -%}
    {{- return(json_field(relation ~ '.' ~ json_column, raw_json_paths(source_name, table_name), path)) -}}
{%- endmacro %}


{#- The fields a raw record holds, each as {name, ref, is_text, required, parses_as}: the declared JSON keys of a
    JSON-lines table (read from the json_fields column `json_column`), else the declared columns. -#}
{% macro raw_fields(source_name, table_name, relation, json_column) %}
    {%- set fields = [] -%}
    {%- for key in raw_json_keys(source_name, table_name) -%}
        {%- do fields.append({
            'name': key.name, 'ref': raw_json_key(source_name, table_name, relation, json_column, [key.name]), 'is_text': true,
            'required': key.get('required', false), 'parses_as': key.get('parses_as')}) -%}
    {%- else -%}
        {%- for column in raw_table_columns(source_name, table_name) -%}
            {%- do fields.append({
                'name': column.name, 'ref': relation ~ '.' ~ column.name, 'is_text': column.data_type == 'string',
                'required': column.meta.get('required', false), 'parses_as': column.meta.get('parses_as')}) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{- return(fields) -}}
{% endmacro %}


{#- True where any required field is blank (text) or null (typed). -#}
{% macro missing_required(source_name, table_name, relation='source', json_column='json_fields') -%}
    {%- set checks = [] -%}
    {%- for field in raw_fields(source_name, table_name, relation, json_column) if field.required -%}
        {%- do checks.append(is_blank(field.ref) if field.is_text else '(' ~ field.ref ~ ' is null)') -%}
    {%- endfor -%}
    ({{ checks | join('\n        or ') if checks else 'false' }})
{%- endmacro %}


{#- The name of a parsing field's typed column (typed_values): typed_<name>. -#}
{% macro typed_value_name(name) -%}
    {{- return('typed_' ~ name) -}}
{%- endmacro %}


{#- A parsing field's typed value, `relation.typed_<name>`, which typed_values() computed in an earlier CTE. -#}
{% macro typed_value(relation, name) -%}
    {{- return(relation ~ '.' ~ typed_value_name(name)) -}}
{%- endmacro %}


{#- The select-list entries (`cast_text(field, parses_as) as typed_<name>`) of a raw table's fields declared to parse
    as a type: each cast done once per row, in a CTE of its own. The reject reason (wrong_type with `typed`, the
    range checks) and the typed select then read the typed column (typed_value) instead of casting the text again
    each time: two to four casts a field and row otherwise. Never a model's output column. -#}
{% macro typed_values(source_name, table_name, relation='source', json_column='json_fields') %}
    {%- if not execute -%}
        {{- return('null as typed_values_pending') -}}
    {%- endif -%}
    {%- set out = [] -%}
    {%- for field in raw_fields(source_name, table_name, relation, json_column) if field.parses_as -%}
        {%- do out.append(cast_text(field.ref, field.parses_as) ~ ' as ' ~ typed_value_name(field.name)) -%}
    {%- endfor -%}
    {%- if not out -%}
        {{ exceptions.raise_compiler_error(source_name ~ '.' ~ table_name ~ ' declares no parses_as field') }}
    {%- endif -%}
    {{- return(out | join(',\n        ')) -}}
{% endmacro %}


{#- The typed columns typed_values() computed, as `relation.typed_<name>` select-list entries: for a CTE that names
    the columns it carries on instead of taking them all. -#}
{% macro typed_value_columns(source_name, table_name, relation) %}
    {%- if not execute -%}
        {{- return(relation ~ '.typed_values_pending') -}}
    {%- endif -%}
    {%- set out = [] -%}
    {%- for field in raw_fields(source_name, table_name, relation, 'json_fields') if field.parses_as -%}
        {%- do out.append(typed_value(relation, field.name)) -%}
    {%- endfor -%}
    {{- return(out | join(',\n        ')) -}}
{% endmacro %}


{#- True where any text field declared to parse as a type holds a value that does not. `typed`: read each field's
    cast from its typed_values column (relation.typed_<name>) instead of casting again. -#}
{% macro wrong_type(source_name, table_name, relation='source', json_column='json_fields', typed=false) -%}
    {%- set checks = [] -%}
    {%- for field in raw_fields(source_name, table_name, relation, json_column) if field.parses_as -%}
        {%- set cast = typed_value(relation, field.name) if typed else cast_text(field.ref, field.parses_as) -%}
        {%- do checks.append('(' ~ cast ~ ' is null and not ' ~ is_blank(field.ref) ~ ')') -%}
    {%- endfor -%}
    ({{ checks | join('\n        or ') if checks else 'false' }})
{%- endmacro %}

{#- Blank text (null, empty or only spaces) is "missing". -#}
{% macro is_blank(expr) -%}
    (nullif(trim({{ expr }}), '') is null)
{%- endmacro %}
