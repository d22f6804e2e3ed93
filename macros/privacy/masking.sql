{#- How staging applies the treatments. A column's class comes from `meta.pii` in the source YAML; what the class
    becomes outside the vault comes from the `pii_treatments` var in dbt_project.yml. Both are declared once. -#}

{#- The one-row key relation, joined at masking time so that no key ever appears in SQL text. An aggregate, so
    that every engine's planner knows it is one row (a scan of the key file is estimated at several, which made
    DuckDB build its hash tables on the million-row side of the joins after it); a key source of any other row
    count gives no row, so nothing is masked with a key chosen at random (the run-start key check refuses it
    first: macros/privacy/key_checks.sql). -#}
{% macro masking_keys() -%}
    select
        max(key_version) as key_version,
        max(k_inner) as k_inner,
        max(k_outer) as k_outer
    from {{ source('privacy', 'masking_keys') }}
    having count(*) = 1
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
    JSON text in `relation.json_column`. `typed`: a classified column the source YAML gives a `parses_as` type (a
    birth date) is read from its typed_values column (relation.typed_<name>) instead of being cast again. -#}
{% macro masked_columns(source_name, table_name, relation='source', keys='masking_keys', as_of=none, lookups={},
                        json_column='json_fields', typed=false) %}
    {%- if not execute -%}
        {{- return('null as masked_columns_pending') -}}
    {%- endif -%}
    {%- set classified = [] -%}
    {%- for key in raw_json_keys(source_name, table_name) if key.get('pii') -%}
        {%- do classified.append({'name': key.name, 'pii': key.pii, 'token_name': key.get('token_name'),
                                  'ref': raw_json_key(source_name, table_name, relation, json_column, [key.name])}) -%}
    {%- else -%}
        {%- for column in raw_table_columns(source_name, table_name) if column.meta.get('pii') -%}
            {%- do classified.append({'name': column.name, 'pii': column.meta.pii,
                                      'token_name': column.meta.get('token_name'),
                                      'ref': relation ~ '.' ~ column.name,
                                      'typed': typed_value(relation, column.name)
                                               if typed and column.meta.get('parses_as') else none}) -%}
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
                {#- the typed column when the model cast it (typed_values), else the text -#}
                {%- set typed = column.get('typed') -%}
                {%- do out.append(birth_year(typed or ref, typed=typed is not none) ~ ' as birth_year') -%}
                {%- do out.append(age_band(typed or ref, as_of, typed=typed is not none) ~ ' as age_band') -%}
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


{#- A raw record as text for the quarantine, with nothing personal in it. Only the values of fields the source YAML
    declares non-personal are kept, and only when they are plain ASCII: passed through pii_text_redacted (a broken
    quote can shift a national ID or a mobile into a code column). Everything else becomes `[<what> len=<n> #<h>]`,
    its length in characters and the first 8 hex digits of its keyed free_text token (`keys` is the key relation in
    scope, masking_keys()), or stays empty when blank: a classified field (`<what>` is its class), a non-personal
    value with any character outside printable ASCII (a name or an address shifted into a code column, a full-width
    spelling; `<what>` is `text`) or that is itself a JSON object or array (`json`), and for a JSON-lines table the
    whole line as landed (`raw_line`), which covers keys nobody declared and a line that does not parse. A CSV
    record is its declared fields in file order joined by commas; a JSON line `key=value` pairs joined by `; `, the
    raw line last. `flagged`: a code's validity is read from its content_flags column (content_quarantine_value). -#}
{% macro masked_record(source_name, table_name, relation='source', raw_line_column='raw_line', keys='masking_keys',
                       json_column='json_fields', flagged=false) %}
    {%- set json_keys = raw_json_keys(source_name, table_name) -%}
    {%- set fields = [] -%}
    {%- if json_keys -%}
        {%- for key in json_keys -%}
            {%- set ref = raw_json_key(source_name, table_name, relation, json_column, [key.name]) -%}
            {%- set value = quarantine_hashed(ref, key.pii, keys) if key.get('pii') else quarantine_kept(ref, keys) -%}
            {%- do fields.append("'" ~ key.name ~ "=' || " ~ value) -%}
        {%- endfor -%}
        {%- do fields.append("'raw_line=' || " ~ quarantine_hashed(relation ~ '.' ~ raw_line_column, 'raw_line', keys)) -%}
        {{- return(fields | join(" || '; ' || ")) -}}
    {%- endif -%}
    {%- for column in raw_table_columns(source_name, table_name) if not column.meta.get('partition_key') -%}
        {%- set ref = 'cast(' ~ relation ~ '.' ~ column.name ~ ' as varchar)' -%}
        {%- if column.meta.get('pii') -%}
            {%- do fields.append(quarantine_hashed(ref, column.meta.pii, keys)) -%}
        {%- else -%}
            {#- A non-personal value only within its content declaration (content_quarantine_value), and then
                only as quarantine_kept allows (printable ASCII, redacted by shape). -#}
            {%- do fields.append(quarantine_kept('(' ~ content_quarantine_value(column, relation, flagged) ~ ')', keys)) -%}
        {%- endif -%}
    {%- endfor -%}
    {{- return(fields | join(" || ',' || ") if fields else "''") -}}
{% endmacro %}


{#- masked_record's `[<what> len=<n> #<h>]` for the text `expr`, or '' when blank or null. The hash is the keyed
    free_text token (tokenize), written out so that no benchmark switch can turn it into the value. -#}
{% macro quarantine_hashed(expr, what, keys='masking_keys') -%}
    coalesce(case when not {{ is_blank(expr) }} then
        '[{{ what }} len=' || cast(length({{ expr }}) as varchar) || ' #'
        || substr({{ sha256_hex(keys ~ '.k_outer || ' ~ sha256_hex(keys ~ '.k_inner || ' ~ normalize_pii(expr, 'free_text'))) }}, 1, 8)
        || ']'
    end, '')
{%- endmacro %}


{#- masked_record's kept value: `expr` redacted when it is plain printable ASCII and not a JSON object or array,
    else quarantine_hashed; '' when null. -#}
{% macro quarantine_kept(expr, keys='masking_keys') -%}
    (case
        when {{ expr }} is null then ''
        {#- The markers content_quarantine_value puts in place of a value it withholds. -#}
        when {{ expr }} in ('[invalid_code]', '[wrong_type]', '[undeclared]', '[redacted]') then {{ expr }}
        when {{ regex_matches(expr, '[^ -~]') }} then {{ quarantine_hashed(expr, 'text', keys) }}
        when substr(ltrim({{ expr }}), 1, 1) in ('{', '[') then {{ quarantine_hashed(expr, 'json', keys) }}
        else {{ pii_text_redacted(expr) }}
    end)
{%- endmacro %}
