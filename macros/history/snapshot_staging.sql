{#- The rows a snapshot run changes, on DuckDB: the same rows as dbt's default__snapshot_staging_table (dbt-adapters,
    snapshots/helpers.sql), in the same columns and order less the key copies, with two joins instead of four.

    dbt's staging joins the source to the snapshot's current versions four times: insertions and updates each join
    the whole source to every current version, and deletes and deletion records each join every current version
    to the whole source; it hashes a new dbt_scd_id for every source row, changed or not. A snapshot of the latest
    model score per customer and model (snap_model_scores: millions of current versions) spent 14 s of a one-day
    run there, most of it on days when nothing changed. Here:
    - `changed`: one left join of the source to the current versions keeps the source rows that are new or changed
      (the strategy's own row_changed test, and a key whose current version is a deletion record), with the
      dbt_scd_id and dbt_is_deleted of the version each one replaces. Insertions and updates are both read from it,
      and the new dbt_scd_id is hashed for these rows only.
    - `gone`: one anti join keeps the current versions whose key left the source. Deletes and deletion records are
      both read from it.
    - The staged rows leave out the copies of the unique key (dbt_unique_key, dbt_unique_key_<n>) that the joins
      use: dbt's snapshot materialization drops them from the columns it adds and merges, and writing them into
      the staging table cost about a quarter of its create on a scoring day (6.6 -> 5.0 s for snap_model_scores at
      the large scale, 6.7 M staged rows; docs/performance.md).
    - The staged rows are not written: the staging relation is a temporary view of this query
      (temporary_view_as, through duckdb__create_table_as), and the merge reads it twice: once for the ids of the
      versions it closes, kept in a narrow temporary table, once for the rows it inserts (duckdb__snapshot_merge_sql
      below). On a scoring day at the large scale the 5.8 M staged rows of snap_model_scores cost more to write
      into a temporary table (3.1-3.5 s alone) than the second reading of the query costs (docs/performance.md).
    Everything else is dbt's: the strategy's updated_at, scd_id, row_changed and valid_to expressions, the
    hard_deletes modes, the column names a project configures (snapshot_table_column_names). A snapshot configured
    with dbt_valid_to_current takes dbt's default macros unchanged (staging, its temporary table and dbt-duckdb's
    merge). tests_py/dbt_project/test_snapshot_staging.py runs both over the same versions (insert, change, no
    change, leave, stay gone, come back) and compares the snapshot tables. -#}
{% macro duckdb__snapshot_staging_table(strategy, source_sql, target_relation) -%}
    {%- if config.get('dbt_valid_to_current') -%}
        {{ return(default__snapshot_staging_table(strategy, source_sql, target_relation)) }}
    {%- endif -%}
    {%- set columns = config.get('snapshot_table_column_names') or get_snapshot_table_column_names() -%}
    {%- set new_record = strategy.hard_deletes == 'new_record' -%}
    {%- set tracks_deletes = strategy.hard_deletes in ('invalidate', 'new_record') -%}
    {%- set key_copies = [] -%}
    {%- if strategy.unique_key | is_list -%}
        {%- for _ in strategy.unique_key %}{% do key_copies.append('dbt_unique_key_' ~ loop.index) %}{% endfor -%}
    {%- else -%}
        {%- do key_copies.append('dbt_unique_key') -%}
    {%- endif %}
    {%- set replaced = ['dbt_replaced_scd_id', 'dbt_replaces'] + (['dbt_replaced_is_deleted'] if new_record else []) -%}
    with snapshot_query as {{ not_materialized() }} (

        {{ source_sql }}

    ),

    snapshotted_data as {{ not_materialized() }} (
        select *, {{ unique_key_fields(strategy.unique_key) }}
        from {{ target_relation }}
        where {{ columns.dbt_valid_to }} is null
    ),

    source_data as {{ not_materialized() }} (
        select *, {{ unique_key_fields(strategy.unique_key) }},
            {{ strategy.updated_at }} as {{ columns.dbt_updated_at }},
            {{ strategy.updated_at }} as {{ columns.dbt_valid_from }}
        from snapshot_query
    ),

    changed as (
        select
            source_data.*,
            snapshotted_data.{{ columns.dbt_scd_id }} as dbt_replaced_scd_id,
            {%- if new_record %}
            snapshotted_data.{{ columns.dbt_is_deleted }} as dbt_replaced_is_deleted,
            {%- endif %}
            {{ unique_key_is_not_null(strategy.unique_key, "snapshotted_data") }} as dbt_replaces
        from source_data
        left outer join snapshotted_data
            on {{ unique_key_join_on(strategy.unique_key, "snapshotted_data", "source_data") }}
        where {{ unique_key_is_null(strategy.unique_key, "snapshotted_data") }}
            or ({{ unique_key_is_not_null(strategy.unique_key, "snapshotted_data") }} and (
                {{ strategy.row_changed }}
                {%- if new_record %} or snapshotted_data.{{ columns.dbt_is_deleted }} = 'True'{% endif %}
            ))
    ),

    insertions as (
        select
            'insert' as dbt_change_type,
            * exclude ({{ (replaced + key_copies) | join(', ') }}),
            {{ get_dbt_valid_to_current(strategy, columns) }},
            {{ strategy.scd_id }} as {{ columns.dbt_scd_id }}
            {%- if new_record %},
            'False' as {{ columns.dbt_is_deleted }}
            {%- endif %}
        from changed
    ),

    updates as (
        select
            'update' as dbt_change_type,
            * exclude ({{ (replaced + key_copies) | join(', ') }}),
            {{ strategy.updated_at }} as {{ columns.dbt_valid_to }},
            dbt_replaced_scd_id as {{ columns.dbt_scd_id }}
            {%- if new_record %},
            dbt_replaced_is_deleted as {{ columns.dbt_is_deleted }}
            {%- endif %}
        from changed
        where dbt_replaces
    )

    {%- if tracks_deletes %}
    {%- set source_col_names = get_columns_in_query(source_sql) %}
    ,
    gone as (
        select snapshotted_data.*
        from snapshotted_data
        anti join source_data
            on {{ unique_key_join_on(strategy.unique_key, "snapshotted_data", "source_data") }}
        {%- if new_record %}
        where not (
            -- a key already recorded as gone is neither closed nor recorded again
            snapshotted_data.{{ columns.dbt_is_deleted }} = 'True'
            and snapshotted_data.{{ columns.dbt_valid_to }} is null
        )
        {%- endif %}
    ),

    deletes as (
        select
            'delete' as dbt_change_type,
            {%- for col_name in source_col_names %}
            null as {{ adapter.quote(col_name) }},
            {%- endfor %}
            {{ snapshot_get_time() }} as {{ columns.dbt_updated_at }},
            {{ snapshot_get_time() }} as {{ columns.dbt_valid_from }},
            {{ snapshot_get_time() }} as {{ columns.dbt_valid_to }},
            {{ columns.dbt_scd_id }}
            {%- if new_record %},
            {{ columns.dbt_is_deleted }}
            {%- endif %}
        from gone
    )
    {%- endif %}

    {%- if new_record %}
    {%- set snapshotted_cols = get_list_of_column_names(get_columns_in_relation(target_relation)) %}
    ,
    deletion_records as (
        select
            'insert' as dbt_change_type,
            {%- for col_name in source_col_names %}
            {{ adapter.quote(col_name) if col_name in snapshotted_cols else 'null' }},
            {%- endfor %}
            {{ snapshot_get_time() }} as {{ columns.dbt_updated_at }},
            {{ snapshot_get_time() }} as {{ columns.dbt_valid_from }},
            {{ columns.dbt_valid_to }},
            {{ snapshot_hash_arguments([columns.dbt_scd_id, snapshot_get_time()]) }} as {{ columns.dbt_scd_id }},
            'True' as {{ columns.dbt_is_deleted }}
        from gone
    )
    {%- endif %}

    select * from insertions
    union all
    select * from updates
    {%- if tracks_deletes %}
    union all
    select * from deletes
    {%- endif %}
    {%- if new_record %}
    union all
    select * from deletion_records
    {%- endif %}
{%- endmacro %}

{#- Whether the snapshot being built stages through a view of the query above (a boolean): every snapshot but one
    configured with dbt_valid_to_current, which dbt's default staging and dbt-duckdb's merge handle. -#}
{% macro snapshot_stages_through_view() %}
    {{- return(model.resource_type == 'snapshot' and not config.get('dbt_valid_to_current')) -}}
{% endmacro %}

{#- dbt-duckdb's snapshot merge (an update closing the replaced versions, then an insert of the new rows), in three
    statements when the staging relation is a view, so that the staging query runs against the snapshot as it was
    before the merge, as dbt's staging table is written before either of dbt's statements:
    - the versions to close (dbt_scd_id and dbt_valid_to of the staged updates and deletes) are kept first in a
      temporary table: two narrow columns, not the staged rows (on a scoring day at the large scale 2.8 M ids, 1.1 s
      alone, against 2.3 s for an update that read the staging query again after the insert: docs/performance.md);
    - the insert then reads the staging query, the snapshot unchanged yet: dbt's insertions and deletion records;
    - the update closes the kept versions that are current. Insert before update, which is not dbt-duckdb's order,
      leaves what dbt's order leaves: the update closes only the versions the staging query named, and no row just
      inserted holds such an id (a version closed by the timestamp strategy is older than its key's new row, whose
      id hashes the key with its newer updated_at; the check strategy's new ids hash this run's clock; a deletion
      record's id hashes the id it records with this run's clock), so a row inserted now stays current.
    Like dbt's own merge, this needs one source row per key: each snapshot's relation has a uniqueness test on it,
    which `dbt build` runs before the snapshot. -#}
{% macro duckdb__snapshot_merge_sql(target, source, insert_cols) -%}
    {%- if not snapshot_stages_through_view() -%}
        {{- return(dbt.duckdb__snapshot_merge_sql(target, source, insert_cols)) -}}
    {%- endif -%}
    {%- set columns = config.get('snapshot_table_column_names') or get_snapshot_table_column_names() -%}
    {%- set closing = adapter.quote(source.identifier ~ '__closing') -%}
    create temporary table {{ closing }} as
    select staged.{{ columns.dbt_scd_id }}, staged.{{ columns.dbt_valid_to }}
    from {{ source }} as staged
    where staged.dbt_change_type in ('update', 'delete');

    insert into {{ target }} ({{ insert_cols | join(', ') }})
    select {% for column in insert_cols -%}
        staged.{{ column }}{{ ', ' if not loop.last }}
    {%- endfor %}
    from {{ source }} as staged
    where staged.dbt_change_type = 'insert';

    update {{ target }} as snapshotted
    set {{ columns.dbt_valid_to }} = closing.{{ columns.dbt_valid_to }}
    from {{ closing }} as closing
    where closing.{{ columns.dbt_scd_id }} = snapshotted.{{ columns.dbt_scd_id }}
        and snapshotted.{{ columns.dbt_valid_to }} is null;

    drop table {{ closing }};
{%- endmacro %}

{#- After the merge: the staging view dropped (dbt-duckdb drops a table). -#}
{% macro duckdb__post_snapshot(staging_relation) %}
    {%- if snapshot_stages_through_view() -%}
        {%- do adapter.drop_relation(staging_relation.incorporate(type='view')) -%}
    {%- else -%}
        {%- do dbt.duckdb__post_snapshot(staging_relation) -%}
    {%- endif -%}
{% endmacro %}
