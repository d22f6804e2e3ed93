{#- How DuckDB stores a table a model writes: the string columns a model declares high-cardinality (its config's
    `meta: {high_cardinality_columns: [...]}`: tokens and IDs, about one distinct value a row) are declared `using
    compression fsst`. Writing a table, DuckDB otherwise analyses every string column for every compression it
    knows and keeps the smallest; on these columns the dictionary's analysis (a hash of every value of a segment)
    never wins and is most of the write's cost. The table stored is the same (FSST is what DuckDB picks for them
    anyway), so reads cost the same: writing the large card staging table took 56–59 CPU-s instead of 85–102, both
    2,663 MB (docs/performance.md § "Tokens and IDs written as FSST"). Athena and Redshift have their own storage
    (Parquet, Iceberg, Redshift's encodings) and ignore the setting.

    Only tables a model creates whole are declared (a full build, a first incremental run, a snapshot's first run);
    a daily run inserts into them and keeps their declaration. A temporary table is written as dbt-duckdb writes it. -#}

{#- The model's high-cardinality columns (a list, possibly empty). -#}
{% macro high_cardinality_columns() %}
    {{- return((config.get('meta') or {}).get('high_cardinality_columns') or []) -}}
{% endmacro %}

{#- `name type` → `name type using compression fsst` for a declared column; a declared column the model does not
    have, or that is not a string, stops the build with the model and the column named. -#}
{% macro fsst_column_clause(column_name, data_type) -%}
    {%- if column_name in high_cardinality_columns() -%}
        {%- if data_type | lower not in ['varchar', 'text', 'string'] -%}
            {{ exceptions.raise_compiler_error(
                model.name ~ ": meta.high_cardinality_columns names " ~ column_name ~ ", a " ~ data_type
                ~ " column: only string columns can be declared") }}
        {%- endif -%}
        {{- ' using compression fsst' -}}
    {%- endif -%}
{%- endmacro %}

{% macro check_high_cardinality_columns(column_names) %}
    {%- for name in high_cardinality_columns() if name not in column_names -%}
        {{ exceptions.raise_compiler_error(
            model.name ~ ": meta.high_cardinality_columns names " ~ name ~ ", which is not a column of the model") }}
    {%- endfor -%}
{% endmacro %}

{#- A temporary view of a query named as dbt-duckdb's temporary relation (no database or schema: DuckDB puts it in
    the temporary catalog, where the materializations look for their temporary table): the query's rows are read
    where the view is read, never written. -#}
{% macro temporary_view_as(relation, compiled_code) -%}
    create temporary view {{ relation.include(database=false, schema=false) }} as (
        {{ compiled_code }}
    )
{%- endmacro %}

{#- dbt-duckdb's create_table_as (dbt.duckdb__create_table_as), but a table with declared high-cardinality columns
    is declared column by column (the types DuckDB binds for the model's select) and then filled, as dbt-duckdb
    itself does for a contract; a table marked with month_part (macros/engines/month_parts.sql) is declared (by its
    contract, or as above) and filled one month at a time; the temporary relation of a model that inserts from its
    query (query_view_as, macros/incremental/insert_from_query.sql) is a view of it, and so is a snapshot's staging
    relation (snapshot_stages_through_view, macros/history/snapshot_staging.sql): both through temporary_view_as. -#}
{% macro duckdb__create_table_as(temporary, relation, compiled_code, language='sql', partitioned_by=none,
                                 sorted_by=none) -%}
    {%- if temporary and language == 'sql' and inserts_from_query() -%}
        {{- return(query_view_as(relation, compiled_code)) -}}
    {%- endif -%}
    {%- if temporary and language == 'sql' and snapshot_stages_through_view() -%}
        {{- return(temporary_view_as(relation, compiled_code)) -}}
    {%- endif -%}
    {%- set contract_config = config.get('contract') -%}
    {%- set contracted = contract_config and contract_config.enforced -%}
    {%- set dbt_duckdbs = temporary or language != 'sql' or partitioned_by or sorted_by or config.get('sql_header') -%}
    {%- set parts = [] if dbt_duckdbs else month_parts(compiled_code) -%}
    {%- if dbt_duckdbs or (not parts and (contracted or not high_cardinality_columns())) -%}
        {{- return(dbt.duckdb__create_table_as(temporary, relation, compiled_code, language, partitioned_by,
                                                sorted_by)) -}}
    {%- endif -%}
    {%- if contracted -%}
    {{ get_assert_columns_equivalent(compiled_code) }}
    create table {{ relation }} {{ get_table_columns_and_constraints() }};
    {%- for part in parts %}
    insert into {{ relation }} {{ get_column_names() }} (
        {{ get_select_subquery(part) }}
    );
    {%- endfor %}
    {%- else -%}
    {%- set described = run_query('describe select * from (' ~ compiled_code ~ ') as model_subq') -%}
    {%- do check_high_cardinality_columns(described.columns['column_name'].values() | list) -%}
    create table {{ relation }} (
    {%- for row in described.rows %}
        {{ adapter.quote(row['column_name']) }} {{ row['column_type'] }}
        {{- fsst_column_clause(row['column_name'], row['column_type']) }}{{ ',' if not loop.last }}
    {%- endfor %}
    );
    {%- for part in parts or [compiled_code] %}
    insert into {{ relation }}
    select * from (
        {{ part }}
    ) as model_subq;
    {%- endfor %}
    {%- endif -%}
{%- endmacro %}

{#- A contract's columns as dbt renders them (name, type, constraints), with the declared columns' compression: what
    dbt-duckdb's create_table_as declares a contracted table with. -#}
{% macro duckdb__get_table_columns_and_constraints() -%}
    {%- set columns = model['columns'].values() | list -%}
    {%- set rendered = adapter.render_raw_columns_constraints(raw_columns=model['columns']) -%}
    {%- set model_constraints = adapter.render_raw_model_constraints(raw_constraints=model['constraints']) -%}
    {%- do check_high_cardinality_columns(columns | map(attribute='name') | list) -%}
    (
    {% for column in rendered -%}
        {{ column }}{{ fsst_column_clause(columns[loop.index0]['name'], columns[loop.index0]['data_type']) }}
        {{- ',' if not loop.last or model_constraints }}
    {% endfor %}
    {% for constraint in model_constraints -%}
        {{ constraint }}{{ ',' if not loop.last }}
    {% endfor -%}
    )
{%- endmacro %}
