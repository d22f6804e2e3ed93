{#- The masking key's life cycle inside dbt (docs/privacy.md, section 3). Every check computes counts and booleans
    in the warehouse and compares them there: no key part, and no line of the key file, is ever selected back,
    printed or put in SQL text. -#}

{#- A keyed fingerprint of the key in relation `keys` (the token construction over a fixed label): names the key in
    `key_state` without revealing it. taglake.privacy.keys.MaskingKey.fingerprint computes the same. -#}
{% macro masking_key_fingerprint(keys='keys') -%}
    {{ sha256_hex(keys ~ '.k_outer || ' ~ sha256_hex(keys ~ ".k_inner || 'taglake:key-fingerprint:v1'")) }}
{%- endmacro %}


{#- Where the database records which key built it: `<schema>_privacy.key_state` (one row). -#}
{% macro key_state_relation() %}
    {{- return(api.Relation.create(database=target.database, schema=generate_schema_name('privacy', none),
                                   identifier='key_state')) -}}
{% endmacro %}


{#- What names the key for a person fixing it: the local key file, or the restricted relation on AWS. -#}
{% macro masking_key_location() %}
    {%- if target.type == 'duckdb' -%}
        {{- return(env_var('TAGLAKE_KEY_FILE', '.secrets/masking_keys.csv')) -}}
    {%- endif -%}
    {{- return(source('privacy', 'masking_keys') | string) -}}
{% endmacro %}


{#- The key's shape, with no key part leaving the warehouse: (rows, well-formed rows, version or none). -#}
{% macro masking_key_shape() %}
    {%- set keys = source('privacy', 'masking_keys') -%}
    {%- set well_formed -%}
        {{ regex_matches('trim(cast(keys.key_version as varchar))', '^[0-9]{1,9}$') }}
        and {{ regex_matches('keys.k_inner', '^[0-9a-f]{64}$') }}
        and {{ regex_matches('keys.k_outer', '^[0-9a-f]{64}$') }}
    {%- endset -%}
    {%- set sql -%}
        select
            count(*) as key_rows,
            sum(case when {{ well_formed }} then 1 else 0 end) as well_formed_rows,
            max(case when {{ regex_matches('trim(cast(keys.key_version as varchar))', '^[0-9]{1,9}$') }}
                then cast(trim(cast(keys.key_version as varchar)) as integer) end) as key_version
        from {{ keys }} as keys
    {%- endset -%}
    {%- set row = run_query(sql).rows[0] -%}
    {{- return((row[0] or 0, row[1] or 0, row[2])) -}}
{% endmacro %}


{#- The key file itself, read as one text and matched whole, before any CSV parsing: a malformed file would
    otherwise fail the CSV reader, whose error quotes the offending line. DuckDB only (elsewhere the key is a
    table). Returns an error message, or '' when the file is one well-formed key. -#}
{% macro masking_key_file_problem() %}
    {{- return(adapter.dispatch('masking_key_file_problem', 'taglake')()) -}}
{% endmacro %}

{% macro default__masking_key_file_problem() %}
    {{- return('') -}}
{% endmacro %}

{% macro duckdb__masking_key_file_problem() %}
    {%- set path = masking_key_location() -%}
    {%- set quoted = "'" ~ (path | replace("'", "''")) ~ "'" -%}
    {%- set found = run_query('select count(*) from glob(' ~ quoted ~ ')').rows[0][0] -%}
    {%- if found != 1 -%}
        {{- return('no masking key at ' ~ path ~ ': make one with `taglake keys init` (docs/privacy.md)') -}}
    {%- endif -%}
    {%- set sql -%}
        select regexp_full_match(content,
            'key_version,k_inner,k_outer\r?\n[0-9]{1,9},[0-9a-f]{64},[0-9a-f]{64}(\r?\n)?')
        from read_text({{ quoted }})
    {%- endset -%}
    {%- if not run_query(sql).rows[0][0] -%}
        {{- return(path ~ ' is not a valid masking key (a header key_version,k_inner,k_outer and one row: an integer'
                   ~ ' version and two 64-hex-digit parts): restore it from the backup the system account keeps; a new'
                   ~ ' key would orphan every token already built (docs/privacy.md)') -}}
    {%- endif -%}
    {{- return('') -}}
{% endmacro %}


{#- dbt commands that read no data and build nothing: the key hooks do nothing there (an offline compile for
    Athena or Redshift has no connection to check a key with; taglake.privacy.dbt_runner.KEYLESS_COMMANDS is the CLI's list). -#}
{% macro key_free_commands() %}
    {{- return(['compile', 'parse', 'list', 'ls', 'debug', 'deps', 'clean']) -}}
{% endmacro %}


{#- on-run-start (dbt_project.yml): stop the run, before any node, when the key is missing or malformed, or is not
    the key the existing tables were built with (key_state). The one way to change keys is the rotation. -#}
{% macro check_masking_key() %}
    {%- if not execute or flags.WHICH in key_free_commands() -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set location = masking_key_location() -%}
    {%- set problem = masking_key_file_problem() -%}
    {%- if problem -%}
        {{ exceptions.raise_compiler_error('masking key: ' ~ problem) }}
    {%- endif -%}
    {%- set rows, well_formed, version = masking_key_shape() -%}
    {%- if rows != 1 or well_formed != 1 -%}
        {{ exceptions.raise_compiler_error(
            'masking key: ' ~ location ~ ' must hold exactly one key (an integer version and two 64-hex-digit parts),'
            ~ ' not ' ~ rows ~ ' rows of which ' ~ well_formed ~ ' well-formed: restore it from the system'
            ~ " account's backup (docs/privacy.md)") }}
    {%- endif -%}
    {%- set recorded = recorded_key_matches() -%}
    {%- if recorded is not none and not recorded[1] -%}
        {{ exceptions.raise_compiler_error(
            'masking key: the tables in ' ~ key_state_relation() ~ "'s database were built with key version "
            ~ recorded[0] ~ ', but ' ~ location ~ ' holds ' ~ ('another key of that version' if recorded[0] == version
            else 'version ' ~ version) ~ ': a build would orphan every token of the history. Use the key they were'
            ~ ' built with; change keys only by the rotation (`taglake keys rotate --as-system`, docs/privacy.md)') }}
    {%- endif -%}
    {{- return('') -}}
{% endmacro %}


{#- (recorded version, whether the current key is the recorded one), or none when nothing is recorded yet. -#}
{% macro recorded_key_matches() %}
    {%- set state = key_state_relation() -%}
    {%- set existing = adapter.get_relation(database=state.database, schema=state.schema,
                                            identifier=state.identifier) -%}
    {%- if existing is none -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set sql -%}
        select
            max(key_state.key_version) as recorded_version,
            sum(case
                when key_state.key_version = cast(trim(cast(keys.key_version as varchar)) as integer)
                    and key_state.key_fingerprint = {{ masking_key_fingerprint('keys') }}
                then 1 else 0
            end) as matching
        from {{ existing }} as key_state
        cross join {{ source('privacy', 'masking_keys') }} as keys
    {%- endset -%}
    {%- set row = run_query(sql).rows[0] -%}
    {%- if row[0] is none -%}
        {{- return(none) -}}
    {%- endif -%}
    {{- return((row[0], (row[1] or 0) == 1)) -}}
{% endmacro %}


{#- on-run-end (dbt_project.yml): record which key built the database, when nothing is recorded yet. It never
    overwrites a record of another key (a refused run must not adopt its key); only the rotation changes it. -#}
{% macro record_masking_key() %}
    {%- if not execute or flags.WHICH in key_free_commands() or masking_key_file_problem() -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set rows, well_formed, version = masking_key_shape() -%}
    {%- if rows != 1 or well_formed != 1 or recorded_key_matches() is not none -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set state = key_state_relation() -%}
    {%- do adapter.create_schema(state) -%}
    {%- do run_query(create_key_state_table(state)) -%}
    {%- set sql -%}
        insert into {{ state }} (key_version, key_fingerprint, recorded_at)
        select
            cast(trim(cast(keys.key_version as varchar)) as integer),
            {{ masking_key_fingerprint('keys') }},
            cast({{ dbt.current_timestamp() }} as timestamp)
        from {{ source('privacy', 'masking_keys') }} as keys
    {%- endset -%}
    {%- do run_query(sql) -%}
    {{- return('') -}}
{% endmacro %}


{#- The key_state table: (key_version integer, key_fingerprint 64 hex, recorded_at timestamp). -#}
{% macro create_key_state_table(relation) %}
    {{- return(adapter.dispatch('create_key_state_table', 'taglake')(relation)) -}}
{% endmacro %}

{% macro default__create_key_state_table(relation) -%}
    create table if not exists {{ relation }} (
        key_version integer,
        key_fingerprint varchar(64),
        recorded_at timestamp
    )
{%- endmacro %}

{% macro athena__create_key_state_table(relation) -%}
    {#- An Iceberg table, so the rotation can UPDATE it in place. -#}
    create table if not exists `{{ relation.schema }}`.`{{ relation.identifier }}` (
        key_version int,
        key_fingerprint string,
        recorded_at timestamp
    )
    location '{{ target.s3_data_dir.rstrip('/') }}/{{ relation.schema }}/{{ relation.identifier }}/'
    tblproperties ('table_type' = 'ICEBERG')
{%- endmacro %}
