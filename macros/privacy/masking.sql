{#- How staging applies the treatments. A column's class comes from `meta.pii` in the source YAML; what the class
    becomes outside the vault comes from the `pii_treatments` var in dbt_project.yml. Both are declared once. -#}

{#- The one-row key relation, joined at masking time so that no key ever appears in SQL text. -#}
{% macro masking_keys() -%}
    select
        key_version,
        k_inner,
        k_outer
    from {{ source('privacy', 'masking_keys') }}
{%- endmacro %}


{#- Each distinct value of a column with its token, computed once: a table that repeats a key on many rows joins
    this instead of hashing every row. Columns: `value` (as landed) and `token`. -#}
{% macro token_lookup(relation, column_name, pii_class, keys='masking_keys') -%}
    select
        distinct_values.value,
        {{ tokenize('distinct_values.value', pii_class, keys) }} as token
    from (
        select distinct {{ column_name }} as value
        from {{ relation }}
        where {{ column_name }} is not null
    ) as distinct_values
    cross join {{ keys }}
{%- endmacro %}


{#- The select-list entries (`expr as name`, joined by commas) that every classified column of a source table
    becomes, per its class's treatments (var pii_treatments): tokenize → <token_name or column>_token,
    mask → <column>_masked, generalize → address: city, district; birth_date: birth_year, age_band as of `as_of`,
    drop → nothing. Every classified column is covered, so none can be forgotten; a class with no treatment fails
    the compile. `lookups` maps a column to a token_lookup() relation joined on `value`, whose `token` is used
    instead of hashing every row. For a JSON-lines table the declared JSON keys are the columns, read from the
    JSON text in `relation.json_column`. -#}
{% macro masked_columns(source_name, table_name, relation='source', keys='masking_keys', as_of=none, lookups={},
                        json_column='json_line') %}
    {%- if not execute -%}
        {{- return('null as masked_columns_pending') -}}
    {%- endif -%}
    {%- set classified = [] -%}
    {%- for key in raw_json_keys(source_name, table_name) if key.get('pii') -%}
        {%- do classified.append({'name': key.name, 'pii': key.pii, 'token_name': key.get('token_name'),
                                  'ref': json_text(relation ~ '.' ~ json_column, [key.name])}) -%}
    {%- else -%}
        {%- for column in raw_table_columns(source_name, table_name) if column.meta.get('pii') -%}
            {%- do classified.append({'name': column.name, 'pii': column.meta.pii,
                                      'token_name': column.meta.get('token_name'),
                                      'ref': relation ~ '.' ~ column.name}) -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- set out = [] -%}
    {%- for column in classified -%}
        {%- set cls = column.pii -%}
        {%- set treatments = var('pii_treatments').get(cls) -%}
        {%- if not treatments -%}
            {{ exceptions.raise_compiler_error("personal-data class '" ~ cls ~ "' has no entry in var pii_treatments") }}
        {%- endif -%}
        {%- set ref = column.ref -%}
        {%- for treatment in treatments -%}
            {%- if treatment == 'tokenize' -%}
                {%- set token = lookups[column.name] ~ '.token' if column.name in lookups else tokenize(ref, cls, keys) -%}
                {%- do out.append(token ~ ' as ' ~ (column.token_name or column.name ~ '_token')) -%}
            {%- elif treatment == 'mask' and cls == 'mobile' -%}
                {%- do out.append(mask_mobile(ref) ~ ' as ' ~ column.name ~ '_masked') -%}
            {%- elif treatment == 'mask' and cls == 'email' -%}
                {%- do out.append(mask_email(ref) ~ ' as ' ~ column.name ~ '_masked') -%}
            {%- elif treatment == 'generalize' and cls == 'address' -%}
                {%- do out.append(address_city(ref) ~ ' as city') -%}
                {%- do out.append(address_district(ref) ~ ' as district') -%}
            {%- elif treatment == 'generalize' and cls == 'birth_date' -%}
                {%- if as_of is none -%}
                    {{ exceptions.raise_compiler_error('masked_columns: a birth date needs as_of for its age band') }}
                {%- endif -%}
                {%- do out.append(birth_year(ref) ~ ' as birth_year') -%}
                {%- do out.append(age_band(ref, as_of) ~ ' as age_band') -%}
            {%- elif treatment == 'drop' -%}
            {%- else -%}
                {{ exceptions.raise_compiler_error("no treatment '" ~ treatment ~ "' for class '" ~ cls ~ "'") }}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- if not out -%}
        {{ exceptions.raise_compiler_error(source_name ~ '.' ~ table_name ~ ' has no classified column to mask') }}
    {%- endif -%}
    {{- return(out | join(',\n        ')) -}}
{% endmacro %}


{#- A raw record as text for the quarantine, with personal data masked: the declared fields in file order joined
    by commas, every classified field replaced by its class in brackets ([national_id], [mobile], …), or left
    empty when it was blank, so the record still shows what was missing. A JSON-lines
    table's raw line is free text, possibly malformed, so its personal values are redacted by pattern instead:
    the national_id value (whole or cut off), then anything shaped like an ID, a mobile or an e-mail. -#}
{% macro masked_record(source_name, table_name, relation='source', raw_line_column='raw_line') %}
    {%- if raw_json_keys(source_name, table_name) -%}
        {%- set line = relation ~ '.' ~ raw_line_column -%}
        {%- set line = regex_replace_all(line, '"national_id" *: *"[^"]*("|$)', '"national_id":"[national_id]"') -%}
        {%- set line = regex_replace_all(line, '[A-Za-z][0-9]{9}', '[national_id]') -%}
        {%- set line = regex_replace_all(line, '(09|[+]886[ -]?9)[0-9 -]{7,12}[0-9]', '[mobile]') -%}
        {%- set line = regex_replace_all(line, '[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+', '[email]') -%}
        {{- return(line) -}}
    {%- endif -%}
    {%- set fields = [] -%}
    {%- for column in raw_table_columns(source_name, table_name) if not column.meta.get('partition_key') -%}
        {%- if column.meta.get('pii') -%}
            {%- set ref = relation ~ '.' ~ column.name -%}
            {%- do fields.append("case when " ~ is_blank(ref) ~ " then '' else '[" ~ column.meta.pii ~ "]' end") -%}
        {%- else -%}
            {#- A non-personal value only within its content declaration (content_quarantine_value). -#}
            {%- do fields.append("coalesce(" ~ content_quarantine_value(column, relation) ~ ", '')") -%}
        {%- endif -%}
    {%- endfor -%}
    {{- return(fields | join(" || ',' || ") if fields else "''") -}}
{% endmacro %}
