{#- Incremental configs, per engine (the one place they differ). Models call
    `{{ config(**landing_partition_incremental()) }}` or `{{ config(**keyed_incremental(['key'])) }}`.

    on_schema_change is append_new_columns everywhere: a column a model gains later (a feed that grows, like
    cards.transactions did with wallet_type) is added to the existing table and the daily run goes on; columns
    are never dropped (sync_all_columns would drop a removed column and its history), and `fail` would stop the
    schedule for a change that is not breaking. Rows landed before a new column carry null in it, as a full
    refresh gives them. -#}

{#- Raw-row tables (base_*): rows have no key (exact duplicates are byte-identical), so a run replaces whole
    landing partitions: delete the landing dates it re-read, insert their rows again. -#}
{% macro landing_partition_incremental() %}
    {{ return(adapter.dispatch('landing_partition_incremental', 'taglake')()) }}
{% endmacro %}

{% macro default__landing_partition_incremental() %}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'delete+insert',
        'unique_key': 'landing_date',
        'on_schema_change': 'append_new_columns',
    }) }}
{% endmacro %}

{#- DuckDB: the run's rows are written once, straight from the model's query into the table. A pre-hook deletes the
    rows landed from the model's window start on (delete_landing_window: every partition the run reads again, and one
    whose files are gone), then the rows are appended; the temporary relation dbt builds first is a view
    (insert_from_query), not a table the rows are copied through. At the large scale a scoring day's 2.9 M score rows
    took 4.7 s through a temporary table and 3.1 s straight (docs/performance.md). -#}
{% macro duckdb__landing_partition_incremental() %}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'append',
        'on_schema_change': 'append_new_columns',
        'pre_hook': '{{ delete_landing_window() }}',
        'meta': {'insert_from_query': true},
    }) }}
{% endmacro %}

{#- Athena: a Hive table partitioned by landing date, whose re-read partitions are overwritten (insert_overwrite
    needs the partition column last in the select: base models keep landing_date last). -#}
{% macro athena__landing_partition_incremental() %}
    {{ return({
        'materialized': 'incremental',
        'table_type': 'hive',
        'incremental_strategy': 'insert_overwrite',
        'partitioned_by': ['landing_date'],
        'on_schema_change': 'append_new_columns',
    }) }}
{% endmacro %}

{#- Keyed facts (stg_*, fct_*, int_model_scores_latest): upsert on the key. Redshift merges (rows matched on the
    key updated, new ones inserted); Athena merges into an Iceberg table.

    `first_landed`: a key keeps the landing date of its first landing, so every row a run's key can replace was landed
    in the run's window (the staged feeds: first landed wins, keys held from before the window are left out; their
    facts read them from staging). On DuckDB such a model replaces its window like a raw-row model does (below). -#}
{% macro keyed_incremental(unique_key, first_landed=false) %}
    {{ return(adapter.dispatch('keyed_incremental', 'taglake')(unique_key, first_landed)) }}
{% endmacro %}

{% macro default__keyed_incremental(unique_key, first_landed=false) %}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'merge',
        'unique_key': unique_key,
        'on_schema_change': 'append_new_columns',
    }) }}
{% endmacro %}

{#- DuckDB: delete the key's rows, insert the run's rows, in one transaction: the same table as a merge (a key
    matched is replaced, a new one added). DuckDB's MERGE INTO (1.5.5) updates matched rows far more slowly: on a
    scoring day at the large scale int_model_scores_latest replaces 2.9 M of its 2.9 M rows, a 305 s merge against a
    2.6 s delete and an insert (docs/performance.md).
    A first_landed model instead replaces its window, as a raw-row model does (duckdb__landing_partition_incremental):
    its pre-hook deletes the rows landed from its window start on and the run's rows are appended straight from the
    query. The same table as the keyed delete: every held row a key of the run matches was landed in the window,
    and a window row whose key the run no longer gives (its raw row withdrawn or now rejected) goes, as in a full
    build. The query may read the model's own table only for the rows landed before the window
    (landed_before_window), which the pre-hook leaves alone. -#}
{% macro duckdb__keyed_incremental(unique_key, first_landed=false) %}
    {%- set config = default__keyed_incremental(unique_key) -%}
    {%- if first_landed -%}
        {%- do config.update(duckdb__landing_partition_incremental()) -%}
    {%- else -%}
        {%- do config.update({'incremental_strategy': 'delete+insert'}) -%}
    {%- endif -%}
    {{ return(config) }}
{% endmacro %}

{#- Athena: merge needs an Iceberg table. -#}
{% macro athena__keyed_incremental(unique_key, first_landed=false) %}
    {{ return({
        'materialized': 'incremental',
        'table_type': 'iceberg',
        'incremental_strategy': 'merge',
        'unique_key': unique_key,
        'on_schema_change': 'append_new_columns',
    }) }}
{% endmacro %}

{#- Aggregates per group (int_*_monthly: customer and month): a run recomputes, from all of their rows, the groups
    that a row landed in the window falls in, and replaces them whole: delete the groups' rows, insert the
    recomputed ones (the group key is not the rows' key: a group holds a row per category, channel and country).
    Athena's Hive tables cannot delete rows and an Iceberg merge needs the rows' own key: there the model is a table
    rebuilt in full, as before. -#}
{% macro group_replace_incremental(group_key) %}
    {{ return(adapter.dispatch('group_replace_incremental', 'taglake')(group_key)) }}
{% endmacro %}

{% macro default__group_replace_incremental(group_key) %}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'delete+insert',
        'unique_key': group_key,
        'on_schema_change': 'append_new_columns',
    }) }}
{% endmacro %}

{% macro athena__group_replace_incremental(group_key) %}
    {{ return({'materialized': 'table'}) }}
{% endmacro %}

{#- A union of raw-row tables replaced per source and landing partition (fct_quarantined_rows): a run deletes, for
    each source, the rows landed from that source's window start on (source_window_starts: a pre-hook, in the
    run's transaction) and appends what it reads again from there. Not delete+insert on (source, landing date): that
    deletes only the partitions that still have rows, and a partition landed again without rejects (a corrected
    file) must lose its old ones. Athena: a table rebuilt in full (a Hive table cannot delete rows). -#}
{% macro source_partition_replace_incremental(source_column) %}
    {{ return(adapter.dispatch('source_partition_replace_incremental', 'taglake')(source_column)) }}
{% endmacro %}

{% macro default__source_partition_replace_incremental(source_column) %}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'append',
        'on_schema_change': 'append_new_columns',
        'pre_hook': "{{ delete_source_windows('" ~ source_column ~ "') }}",
    }) }}
{% endmacro %}

{% macro athena__source_partition_replace_incremental(source_column) %}
    {{ return({'materialized': 'table'}) }}
{% endmacro %}
