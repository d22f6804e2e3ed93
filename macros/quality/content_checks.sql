{#- What a non-personal raw field may hold, declared once in the source YAML as `meta.content` (a JSON key's
    attributes inline; an object key's own keys under `fields`):
      code | identifier   validated: `format` (an anchored POSIX regex), `values` (a closed list) or `reference` (a
                          seed, with `reference_column`), after trimming and the declared `case` (upper | lower);
      number | date | timestamp   typed: a value that casts cannot carry text (wrong_type quarantines the rest);
      free_text           guarded on content (guarded_text): a value that looks like personal data is redacted.
    `staged_as` names the staging column when it differs from the field's name; `derives` lists further staging
    columns computed from the field. Staging reads these through the macros below, the Python side through
    taglake.core.sources, and tests_py/privacy/test_staging_content.py checks that every staging column is covered. -#}

{#- The declared non-personal fields of a raw table, each as {name, ref, content, format, values, reference,
    reference_column, case, staged_as, valid}: the JSON keys of a JSON-lines table (an object key's fields
    flattened, read from the JSON text in `relation.json_column`), else the columns (read as `relation.column`).
    With `flagged`, a code or identifier field's `valid` is its flag column `relation.<content_flag_name>`, which
    content_flags() computed in an earlier CTE of the same model; else none (the check is written out). -#}
{% macro raw_content_fields(source_name, table_name, relation='source', json_column='json_fields', flagged=false) %}
    {%- set fields = [] -%}
    {%- set keys = raw_json_keys(source_name, table_name) -%}
    {%- if keys -%}
        {%- for key in keys if key.get('content') -%}
            {%- if key.content == 'object' -%}
                {%- for sub in key.get('fields', []) -%}
                    {%- do fields.append(_content_field(sub, raw_json_key(source_name, table_name, relation, json_column, [key.name, sub.name]), relation=relation if flagged else none)) -%}
                {%- endfor -%}
            {%- else -%}
                {%- do fields.append(_content_field(key, raw_json_key(source_name, table_name, relation, json_column, [key.name]), relation=relation if flagged else none)) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- else -%}
        {%- for column in raw_table_columns(source_name, table_name) if column.meta.get('content') -%}
            {%- do fields.append(_content_field(column.meta, relation ~ '.' ~ column.name, column.name, relation if flagged else none)) -%}
        {%- endfor -%}
    {%- endif -%}
    {{- return(fields) -}}
{% endmacro %}

{#- `relation`: where the field's validity flag is (content_flags), or none to write the check out. -#}
{% macro _content_field(attrs, ref, name=none, relation=none) %}
    {%- set field = {
        'name': name or attrs.name, 'ref': ref, 'content': attrs.content, 'format': attrs.get('format'),
        'allowed': attrs.get('values'), 'reference': attrs.get('reference'),
        'reference_column': attrs.get('reference_column'), 'case': attrs.get('case'),
        'staged_as': attrs.get('staged_as') or name or attrs.name} -%}
    {%- do field.update({'valid': relation ~ '.' ~ content_flag_name(field)
                                   if relation is not none and field.content in ('code', 'identifier') else none}) -%}
    {%- if field.content in ('code', 'identifier') and not (field.format or field.allowed or field.reference) -%}
        {{ exceptions.raise_compiler_error(
            "source YAML: " ~ field.name ~ " is content '" ~ field.content
            ~ "' but declares no format, values or reference; declare one (docs/privacy.md)") }}
    {%- endif -%}
    {%- if field.content not in ('code', 'identifier', 'number', 'date', 'timestamp', 'free_text') -%}
        {{ exceptions.raise_compiler_error(
            "source YAML: " ~ field.name ~ " has content '" ~ field.content
            ~ "'; use code, identifier, number, date, timestamp, free_text (or object with fields)") }}
    {%- endif -%}
    {{- return(field) -}}
{% endmacro %}


{#- A field's value as staging keeps it: trimmed, in its declared case. -#}
{% macro content_value(field) -%}
    {%- if field.case == 'upper' -%}
        upper(trim({{ field.ref }}))
    {%- elif field.case == 'lower' -%}
        lower(trim({{ field.ref }}))
    {%- else -%}
        trim({{ field.ref }})
    {%- endif -%}
{%- endmacro %}


{#- The name of a code or identifier field's validity flag column (content_flags): is_valid_<staged_as>. -#}
{% macro content_flag_name(field) -%}
    {{- return('is_valid_' ~ field.staged_as) -}}
{%- endmacro %}


{#- The select-list entries (`content_is_valid(field) as is_valid_<staged_as>`) of a raw table's code and identifier
    fields: each field's validity computed once per row, in a CTE of its own. The reject reason, the staged value
    and the quarantined record then read the flag (invalid_content, content_columns, masked_record with
    `flagged=true`) instead of writing the check out again each time: a `reference` check is a subquery, which
    the engine would otherwise join once per place it is written (about 14 times per card row), a `format` check
    a regular expression evaluated as often. Never a model's output column (a base model names what it keeps). -#}
{% macro content_flags(source_name, table_name, relation='source', json_column='json_fields') %}
    {%- if not execute -%}
        {{- return('null as content_flags_pending') -}}
    {%- endif -%}
    {%- set out = [] -%}
    {%- for field in _flagged_content_fields(source_name, table_name, relation, json_column) -%}
        {%- do out.append(content_is_valid(field) ~ ' as ' ~ content_flag_name(field)) -%}
    {%- endfor -%}
    {{- return(out | join(',\n        ')) -}}
{% endmacro %}


{#- The flag columns content_flags() computed, as `relation.is_valid_<staged_as>` select-list entries: for a CTE that
    names the columns it carries on instead of taking them all. -#}
{% macro content_flag_columns(source_name, table_name, relation) %}
    {%- if not execute -%}
        {{- return(relation ~ '.content_flags_pending') -}}
    {%- endif -%}
    {%- set out = [] -%}
    {%- for field in _flagged_content_fields(source_name, table_name, relation) -%}
        {%- do out.append(relation ~ '.' ~ content_flag_name(field)) -%}
    {%- endfor -%}
    {{- return(out | join(',\n        ')) -}}
{% endmacro %}


{#- The fields that have a validity flag (content_flags): a raw table's code and identifier fields; an error when it
    declares none. -#}
{% macro _flagged_content_fields(source_name, table_name, relation, json_column='json_fields') %}
    {%- set fields = [] -%}
    {%- for field in raw_content_fields(source_name, table_name, relation, json_column)
            if field.content in ('code', 'identifier') -%}
        {%- do fields.append(field) -%}
    {%- endfor -%}
    {%- if not fields -%}
        {{ exceptions.raise_compiler_error(source_name ~ '.' ~ table_name ~ ' declares no code or identifier') }}
    {%- endif -%}
    {{- return(fields) -}}
{% endmacro %}


{#- True where a code or identifier field's value is within its declaration (blank is left to missing_required).
    Never null. A field read with `flagged` (raw_content_fields) is its flag column, computed once per row. -#}
{% macro content_is_valid(field) -%}
    {%- if field.get('valid') -%}
        {{- field.valid -}}
    {%- else -%}
    {%- set value = content_value(field) -%}
    {%- set checks = [] -%}
    {%- if field.format -%}
        {%- do checks.append(regex_matches(value, field.format)) -%}
    {%- endif -%}
    {%- if field.allowed -%}
        {%- set quoted = [] -%}
        {%- for v in field.allowed -%}
            {%- do quoted.append("'" ~ (v | string | replace("'", "''")) ~ "'") -%}
        {%- endfor -%}
        {%- do checks.append(value ~ ' in (' ~ quoted | join(', ') ~ ')') -%}
    {%- endif -%}
    {%- if field.reference -%}
        {%- if not field.reference_column -%}
            {{ exceptions.raise_compiler_error(
                "source YAML: " ~ field.name ~ " names reference " ~ field.reference ~ " but no reference_column") }}
        {%- endif -%}
        {%- do checks.append(value ~ ' in (select ' ~ field.reference_column ~ ' from ' ~ ref(field.reference) ~ ')') -%}
    {%- endif -%}
    ({{ is_blank(field.ref) }} or coalesce({{ checks | join(' and ') }}, false))
    {%- endif -%}
{%- endmacro %}


{#- True where any code or identifier field of a raw row is outside its declared format, list or reference: the
    `invalid_code` reject reason. Base models test it after every other reason. -#}
{% macro invalid_content(source_name, table_name, relation='source', json_column='json_fields', flagged=false) -%}
    {%- set checks = [] -%}
    {%- for field in raw_content_fields(source_name, table_name, relation, json_column, flagged)
            if field.content in ('code', 'identifier') -%}
        {%- do checks.append('not ' ~ content_is_valid(field)) -%}
    {%- endfor -%}
    ({{ checks | join('\n        or ') if checks else 'false' }})
{%- endmacro %}


{#- The select-list entries (`expr as name`) of a raw table's code, identifier and free-text fields, as staging
    keeps them: codes and identifiers trimmed and cased, and null where outside their declaration (such a row is
    rejected by invalid_content, and its value never leaves, not even on the rejected row); free text guarded
    (guarded_text). Typed fields (number, date, timestamp) are cast by the
    model itself. `flagged`: read each code's validity from its content_flags column. `guarded`: read each free-text
    field's guarded value from its free_text_guard_ctes relation (joined by free_text_guard_joins). -#}
{% macro content_columns(source_name, table_name, relation='source', json_column='json_fields', flagged=false,
                         guarded=false) %}
    {%- if not execute -%}
        {{- return('null as content_columns_pending') -}}
    {%- endif -%}
    {%- set out = [] -%}
    {%- for field in raw_content_fields(source_name, table_name, relation, json_column, flagged) -%}
        {%- if field.content in ('code', 'identifier') -%}
            {%- do out.append('case when ' ~ content_is_valid(field) ~ ' then ' ~ content_value(field) ~ ' end as '
                              ~ field.staged_as) -%}
        {%- elif field.content == 'free_text' and guarded -%}
            {%- do out.append(free_text_guard_relation(field) ~ '.guarded as ' ~ field.staged_as) -%}
        {%- elif field.content == 'free_text' -%}
            {%- do out.append(guarded_text('trim(' ~ field.ref ~ ')') ~ ' as ' ~ field.staged_as) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if not out -%}
        {{ exceptions.raise_compiler_error(source_name ~ '.' ~ table_name ~ ' declares no code, identifier or free text') }}
    {%- endif -%}
    {{- return(out | join(',\n        ')) -}}
{% endmacro %}


{#- A declared non-personal column's raw value as the quarantine may keep it: a code or identifier only when
    within its declaration (else `[invalid_code]`), free text guarded, a text column that must parse only when it
    does (else `[wrong_type]`), anything else as text. Undeclared content keeps nothing (`[undeclared]`). -#}
{% macro content_quarantine_value(column, relation='source', flagged=false) -%}
    {%- set ref = relation ~ '.' ~ column.name -%}
    {%- set content = column.meta.get('content') -%}
    {%- if content in ('code', 'identifier') -%}
        case when {{ content_is_valid(_content_field(column.meta, ref, column.name, relation if flagged else none)) }}
            then {{ ref }} else '[invalid_code]' end
    {%- elif content == 'free_text' -%}
        {{ guarded_text(ref) }}
    {%- elif content in ('number', 'date', 'timestamp') and column.meta.get('parses_as') -%}
        case when {{ cast_text(ref, column.meta.parses_as) }} is not null or {{ is_blank(ref) }}
            then {{ ref }} else '[wrong_type]' end
    {%- elif content in ('number', 'date', 'timestamp') -%}
        cast({{ ref }} as varchar)
    {%- else -%}
        '[undeclared]'
    {%- endif -%}
{%- endmacro %}
