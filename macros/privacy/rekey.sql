{#- Key rotation that keeps history (docs/privacy.md, section 3): the system account maps every token made with the
    old key to the token the new key makes of the same clear value, and rewrites every persisted relation's token
    columns through that map, so snapshots, incremental facts and history marts stay one chain per customer.

    The procedure, on every engine:
      1. stage the new key (version + 1) beside the old one, readable by the pipeline/system role only;
      2. build the map (old_token, new_token) from the raw lake, the system's source of clear values:
         rekey_token_map('old_keys', 'new_keys');
      3. rewrite every token column of every persisted relation through the map, and the key_state record:
         rekey_statements(mapping, new_keys), run in one transaction where the engine has one (DuckDB, Redshift);
      4. only then make the new key the active one, and run the daily build.
    Locally `taglake keys rotate --as-system` does all of it (taglake/privacy/rotation.py). On AWS the system
    account runs `dbt run-operation rekey_tokens` (docs/deployment.md). -#}


{#- Every column name a `tokenize` treatment produces (`token_name`, else `<column>_token`), from the one derivation
    of column kinds (pii_column_kinds: the source YAML's meta.pii and var pii_treatments). -#}
{% macro token_column_names() %}
    {%- set names = [] -%}
    {%- for name, kind in pii_column_kinds().items() if kind == 'tokenized' -%}
        {%- do names.append(name) -%}
    {%- endfor -%}
    {{- return(names | sort) -}}
{% endmacro %}


{#- The (old_token, new_token) pairs of every clear value in the raw lake that staging tokenizes: each source
    column or JSON key whose class is tokenized, read as staging reads it and tokenized by the same macro under
    both keys. `old_keys` and `new_keys` name one-row key relations in scope (key_version, k_inner, k_outer).
    Runs as the system account only: it reads raw. -#}
{% macro rekey_token_map(old_keys='old_keys', new_keys='new_keys') %}
    {%- if not execute -%}
        {{- return('select null as old_token, null as new_token') -}}
    {%- endif -%}
    {%- set selects = [] -%}
    {%- for node in graph.sources.values() | sort(attribute='unique_id') if node.source_name != 'privacy' -%}
        {%- set values = [] -%}
        {%- for key in node.meta.get('json_keys', []) if 'tokenize' in var('pii_treatments').get(key.get('pii'), []) -%}
            {%- set line = 'case when ' ~ json_is_valid('raw.raw_line') ~ ' then raw.raw_line end' -%}
            {%- do values.append((json_text(line, [key.name]), key.pii)) -%}
        {%- endfor -%}
        {%- for column in node.columns.values()
                if 'tokenize' in var('pii_treatments').get(column.meta.get('pii'), []) -%}
            {%- do values.append(('raw.' ~ column.name, column.meta.pii)) -%}
        {%- endfor -%}
        {%- for expr, cls in values -%}
            {%- set sql -%}
    select
        {{ tokenize('clear.value', cls, 'old_keys') }} as old_token,
        {{ tokenize('clear.value', cls, 'new_keys') }} as new_token
    from (
        select distinct {{ expr }} as value
        from {{ source(node.source_name, node.name) }} as raw
    ) as clear
    cross join {{ old_keys }} as old_keys
    cross join {{ new_keys }} as new_keys
    where clear.value is not null
            {%- endset -%}
            {%- do selects.append(sql) -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- if not selects -%}
        {{ exceptions.raise_compiler_error('rekey_token_map: no source column is tokenized') }}
    {%- endif -%}
    {{- return('select distinct pairs.old_token, pairs.new_token\nfrom (\n' ~ (selects | join('\n    union all\n'))
               ~ '\n) as pairs\nwhere pairs.old_token is not null') -}}
{% endmacro %}


{#- The relations that hold tokens and persist between runs, each as {name, relation, materialized, token_columns,
    version_columns, rewritable}: every enabled model materialized as table or incremental, and every snapshot.
    Columns come from `columns` (relation name → column names) when given, else from the warehouse when a
    connection exists, else (offline compile) from the YAML. `rewritable`:
    the engine can UPDATE it in place (Athena: Iceberg only; its Hive tables are rebuilt from raw instead). -#}
{% macro rekey_relations(live=true, columns=none) %}
    {%- set token_names = token_column_names() -%}
    {%- set live = live and execute -%}
    {%- set found = [] -%}
    {%- for node in graph.nodes.values() | sort(attribute='unique_id')
            if node.resource_type in ('model', 'snapshot') and node.config.enabled
               and (node.resource_type == 'snapshot' or node.config.materialized in ('table', 'incremental')) -%}
        {%- set relation = api.Relation.create(database=node.database, schema=node.schema,
                                               identifier=node.alias or node.name) -%}
        {%- if columns is not none -%}
            {%- set names = columns.get(node.alias or node.name, []) | map('lower') | list -%}
        {%- elif live -%}
            {%- set existing = adapter.get_relation(database=node.database, schema=node.schema,
                                                    identifier=node.alias or node.name) -%}
            {%- set names = (adapter.get_columns_in_relation(existing) | map(attribute='name') | map('lower') | list)
                            if existing is not none else [] -%}
        {%- else -%}
            {%- set names = node.columns.keys() | map('lower') | list -%}
        {%- endif -%}
        {%- set tokens = names | select('in', token_names) | list -%}
        {%- if tokens -%}
            {%- set table_type = node.config.get('table_type') or 'hive' -%}
            {%- do found.append({
                'name': node.name,
                'identifier': node.alias or node.name,
                'relation': relation,
                'resource_type': node.resource_type,
                'materialized': node.config.materialized,
                'token_columns': tokens,
                'version_columns': names | select('equalto', 'masking_key_version') | list,
                'rewritable': target.type != 'athena' or table_type | lower == 'iceberg',
            }) -%}
        {%- endif -%}
    {%- endfor -%}
    {{- return(found) -}}
{% endmacro %}


{#- The statements that rewrite every persisted token through `mapping` (a relation with old_token, new_token),
    set masking_key_version to the version in `new_keys`, and record the new key in key_state. One statement per
    token column, each an in-place update of the rows whose token is in the map. -#}
{% macro rekey_statements(mapping, new_keys, live=true, columns=none) %}
    {%- set statements = [] -%}
    {%- for r in rekey_relations(live, columns) if r.rewritable -%}
        {%- for column in r.token_columns -%}
            {%- do statements.append(rekey_column_sql(r.relation, column, mapping)) -%}
        {%- endfor -%}
        {%- for column in r.version_columns -%}
            {%- do statements.append('update ' ~ r.relation ~ ' set ' ~ column ~ ' = (select max(key_version) from '
                                     ~ new_keys ~ ')') -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- do statements.append(rekey_key_state_sql(new_keys)) -%}
    {{- return(statements) -}}
{% endmacro %}


{#- One token column rewritten through the map, in place. -#}
{% macro rekey_column_sql(relation, column, mapping) %}
    {{- return(adapter.dispatch('rekey_column_sql', 'taglake')(relation, column, mapping)) -}}
{% endmacro %}

{% macro default__rekey_column_sql(relation, column, mapping) -%}
    update {{ relation }} as persisted
    set {{ column }} = token_map.new_token
    from {{ mapping }} as token_map
    where persisted.{{ column }} = token_map.old_token
{%- endmacro %}

{#- Athena: an Iceberg MERGE (UPDATE … FROM does not exist there). -#}
{% macro athena__rekey_column_sql(relation, column, mapping) -%}
    merge into {{ relation }} as persisted
    using {{ mapping }} as token_map
    on persisted.{{ column }} = token_map.old_token
    when matched then update set {{ column }} = token_map.new_token
{%- endmacro %}


{#- key_state records the new key (its version and keyed fingerprint), in the same transaction as the tokens. -#}
{% macro rekey_key_state_sql(new_keys) %}
    {{- return(adapter.dispatch('rekey_key_state_sql', 'taglake')(new_keys)) -}}
{% endmacro %}

{% macro default__rekey_key_state_sql(new_keys) -%}
    update {{ key_state_relation() }}
    set
        key_version = (select max(cast(trim(cast(new_keys.key_version as varchar)) as integer)) from {{ new_keys }} as new_keys),
        key_fingerprint = (select max({{ masking_key_fingerprint('new_keys') }}) from {{ new_keys }} as new_keys),
        recorded_at = cast({{ dbt.current_timestamp() }} as timestamp)
{%- endmacro %}

{#- Athena: an Iceberg MERGE (its UPDATE takes no subquery). -#}
{% macro athena__rekey_key_state_sql(new_keys) -%}
    merge into {{ key_state_relation() }} as key_state
    using (
        select
            cast(trim(cast(new_keys.key_version as varchar)) as integer) as key_version,
            {{ masking_key_fingerprint('new_keys') }} as key_fingerprint
        from {{ new_keys }} as new_keys
    ) as new_key
    on 1 = 1
    when matched then update set
        key_version = new_key.key_version,
        key_fingerprint = new_key.key_fingerprint,
        recorded_at = cast({{ dbt.current_timestamp() }} as timestamp)
{%- endmacro %}


{#- The rotation's plan as JSON, for taglake.privacy.rotation and the offline checks: the token columns, the map
    query, each persisted relation with its token columns (`columns`, relation name → column names, as the
    warehouse's catalog lists them; else as the YAML declares them: compiling opens no connection), and the
    statements. -#}
{% macro rekey_plan_json(mapping='token_map', old_keys='old_keys', new_keys='new_keys', columns=none) %}
    {%- set relations = [] -%}
    {%- for r in rekey_relations(false, columns) -%}
        {%- do relations.append({'name': r.name, 'identifier': r.identifier, 'relation': r.relation | string, 'resource_type': r.resource_type,
                                 'materialized': r.materialized, 'token_columns': r.token_columns,
                                 'version_columns': r.version_columns, 'rewritable': r.rewritable}) -%}
    {%- endfor -%}
    {{- return(tojson({
        'token_columns': token_column_names(),
        'map_sql': rekey_token_map(old_keys, new_keys),
        'relations': relations,
        'statements': rekey_statements(mapping, new_keys, false, columns),
    })) -}}
{% endmacro %}


{#- `dbt run-operation rekey_tokens --args '{mapping: …, new_keys: …}' --target <engine>_system`: the AWS rotation's
    step 3. Redshift: every statement in one transaction. Athena: one MERGE per table (each atomic; Athena has no
    multi-table transaction). A rerun after a failure is safe: rewritten tokens no longer match the map's
    old_token. Hive tables (Athena's base_* models) are not rewritten: the next build rebuilds them from raw with
    --full-refresh (listed in the log). -#}
{% macro rekey_tokens(mapping, new_keys) %}
    {%- if target.name not in ['athena_system', 'redshift_system', 'local_system'] -%}
        {{ exceptions.raise_compiler_error('rekey_tokens runs as the system account only (a *_system target)') }}
    {%- endif -%}
    {%- set statements = rekey_statements(mapping, new_keys) -%}
    {#- dbt opens one transaction for the first statement (auto_begin) and keeps it open: every statement runs in
        it, and the one commit is here. A failure before it leaves the transaction uncommitted: rolled back. -#}
    {%- for statement in statements -%}
        {%- do run_query(statement) -%}
    {%- endfor -%}
    {%- if target.type != 'athena' -%}
        {%- do adapter.commit() -%}
    {%- endif -%}
    {%- for r in rekey_relations() if not r.rewritable -%}
        {{ log('rekey_tokens: rebuild ' ~ r.relation ~ ' with --full-refresh (not rewritable in place)', info=true) }}
    {%- endfor -%}
    {{ log('rekey_tokens: ' ~ statements | length ~ ' statements applied', info=true) }}
{% endmacro %}
