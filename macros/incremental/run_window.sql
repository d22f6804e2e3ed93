{#- What a daily run checks: the landing window of each incremental model (docs/daily-runs.md, "Tests and the privacy
    guard in a daily run").

    `taglake run-daily` reads, before the build, the newest landing_date each incremental model's table holds and
    passes them in the environment variable TAGLAKE_RUN_WINDOW (JSON: {model name: 'YYYY-MM-DD'}). A model's run
    rewrites the rows landed from that date minus the lookback on (window_from_newest, as the model's own
    landing_window_start), so those rows are what its data tests and the privacy guard need to check. Without it (a
    full build, any other `dbt build`: taglake's dbt environment never inherits it), in a full refresh, or for a
    model it does not name (its first build), there is no window: the whole table is checked, as before.

    It is read only while a node executes, never while dbt parses: a value dbt saw at parse time would be part of
    its partial-parse state, and a new value each day (a new --vars value was the earlier way) made every daily run
    parse the whole project again (about 10 s at medium scale). -#}
{#- The newest landing dates the runner passed (TAGLAKE_RUN_WINDOW, {model name: date}), or none: not executing, a
    full refresh, or no window passed. A value that is not a mapping of dates stops the node with one line. -#}
{% macro run_window_landings() %}
    {%- if not execute or flags.FULL_REFRESH -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set passed = env_var('TAGLAKE_RUN_WINDOW', '') | trim -%}
    {%- if not passed -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(run_env_dates('TAGLAKE_RUN_WINDOW', passed)) }}
{% endmacro %}

{#- Per model, the earliest landing date whose raw files changed since the last daily run that passed, or none
    for a model nothing upstream of changed: what the runner passed in TAGLAKE_RUN_CHANGES (JSON {model name:
    'YYYY-MM-DD' | null}, from its ledger of raw files: taglake.ops.run_ledger); none without a window
    (run_window_landings) or without the variable. window_from_newest starts a named model's window there. -#}
{% macro run_window_changes() %}
    {%- if run_window_landings() is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set passed = env_var('TAGLAKE_RUN_CHANGES', '') | trim -%}
    {%- if not passed -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(run_env_dates('TAGLAKE_RUN_CHANGES', passed, nullable=true)) }}
{% endmacro %}

{#- A runner variable's JSON value (`passed`) read as {model name: date} (`nullable`: a date or null), for
    run_window_landings and run_window_changes; anything else stops the node with one line naming `variable` (and
    the model). Each caller reads its variable by its literal name (tests_py/privacy/test_no_off_switch.py lists
    every variable the SQL reads). -#}
{% macro run_env_dates(variable, passed, nullable=false) %}
    {%- set what = 'date or null' if nullable else 'date' -%}
    {%- set values = fromjson(passed) -%}
    {%- if values is not mapping -%}
        {{ exceptions.raise_compiler_error(
            variable ~ ": a JSON mapping of model name to " ~ what ~ " (set by taglake run-daily)") }}
    {%- endif -%}
    {%- set dates = {} -%}
    {%- for name, value in values.items() -%}
        {%- if nullable and value is none -%}
            {%- do dates.update({name: none}) -%}
        {%- elif modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', value | string) -%}
            {%- do dates.update({name: modules.datetime.date.fromisoformat(value | string)}) -%}
        {%- else -%}
            {{ exceptions.raise_compiler_error(
                variable ~ ": " ~ name ~ " is not a date (YYYY-MM-DD)" ~ (" or null" if nullable else "")) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(dates) }}
{% endmacro %}

{#- The newest landing day of the whole run: the newest date any incremental model held before the build (the day
    the schedule last completed), which anchors every model's lookback (window_from_newest); none without a window. -#}
{% macro run_window_anchor() %}
    {%- set landings = run_window_landings() -%}
    {{ return(landings.values() | max if landings else none) }}
{% endmacro %}

{% macro run_window_start(model_name) %}
    {%- set landings = run_window_landings() -%}
    {%- if not landings or model_name is none or model_name not in landings -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(window_from_newest(landings[model_name], landings.values() | max, model_name)) }}
{% endmacro %}

{#- The column a model's window is read from: the first of var('run_window_columns') among `column_names` (its
    table's columns), none when it has none of them. -#}
{% macro run_window_column(column_names) %}
    {%- set names = column_names | map('lower') | list -%}
    {%- for candidate in var('run_window_columns') if candidate in names -%}
        {{ return(candidate) }}
    {%- endfor -%}
    {{ return(none) }}
{% endmacro %}

{#- The rows of a run's window: landed on or after `since`, and any row whose landing date is null (no window can
    place it, so it is always checked: the landing_date not_null tests stay whole). -#}
{% macro in_run_window(since, column='landing_date') -%}
    ({{ landed_since(since, column) }} or {{ column }} is null)
{%- endmacro %}

{#- A data test's `where` on an incremental model says which of its rows the test checks in a daily run, with one
    of two markers (in the test's config, alone or with other predicates, e.g. `reject_reason is null and
    __landing_window__`):

    - `__landing_window__`: the rows landed in the run's window (not_null, accepted_values, column_values,
      relationships, expression_is_true: a row passes or fails by itself);
    - `__keys_in_landing_window__`: every row, over the whole table, of each key a row in the window holds (unique,
      unique_combination_of_columns: a new row that repeats a key from an older day is a duplicate, which the
      window's rows alone would not show).

    Without a window (run_window_start is none) both markers are `1=1`: the test checks the whole table. This
    replaces dbt's get_where_subquery, which wraps the model of every generic test; a `where` without a marker is
    dbt's as before. A marker on a test of another kind is refused (a window is only sound for the kinds above). -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if not where -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- set rows_marker, keys_marker = test_window_markers() -%}
    {%- if rows_marker in where or keys_marker in where -%}
        {%- set test = model.get('test_metadata') or {} -%}
        {%- set kind = test.get('name') -%}
        {%- set kwargs = test.get('kwargs') or {} -%}
        {%- set key_kinds = {'unique': [kwargs.get('column_name')],
                             'unique_combination_of_columns': kwargs.get('combination_of_columns')} -%}
        {%- if keys_marker in where and kind not in key_kinds -%}
            {{ exceptions.raise_compiler_error(model.name ~ ': ' ~ keys_marker ~ ' is for unique and '
                ~ 'unique_combination_of_columns tests') }}
        {%- endif -%}
        {%- if rows_marker in where and kind not in ['not_null', 'accepted_values', 'column_values',
                                                     'relationships', 'expression_is_true'] -%}
            {{ exceptions.raise_compiler_error(model.name ~ ': ' ~ rows_marker ~ ' is for tests that check each '
                ~ 'row by itself (not_null, accepted_values, column_values, relationships, expression_is_true); a key '
                ~ 'test takes ' ~ keys_marker) }}
        {%- endif -%}
        {%- set attached = model.get('attached_node') -%}
        {%- set since = test_window_start() -%}
        {#- the tested model's window column: landed_through for an aggregate replaced per group -#}
        {%- set documented = graph.nodes[attached].columns.keys() if attached in graph.nodes else [] -%}
        {%- set column = run_window_column(documented) or 'landing_date' -%}
        {%- if since is none -%}
            {%- set where = where | replace(rows_marker, '1=1') | replace(keys_marker, '1=1') -%}
        {%- elif rows_marker in where -%}
            {%- set where = where | replace(rows_marker, in_run_window(since, column)) -%}
        {%- else -%}
            {#- The window's keys joined to the table once per row (rows_with_keys: a semi join on DuckDB, the
                distinct keys elsewhere), not a correlated `exists`: DuckDB decorrelates that into a grouping of
                every key of the table, several times slower on a big table than this join, whose hash table holds
                the window's keys only. The join is on `=`: DuckDB then filters the table's scan by the window's
                keys (a join filter, which `is not distinct from` does not get: a windowed key test 0.4-2.3 s ->
                0.1-0.4 s on the large build). A key with a null part, which `=` never matches, is joined
                null-safely in a second branch over such keys only; `unique` ignores null values, so it has none. -#}
            {%- set columns = key_kinds[kind] -%}
            {%- set equal, null_safe, has_null, tested_null = [], [], [], [] -%}
            {%- for key in columns -%}
                {%- do equal.append('landed.' ~ key ~ ' = tested.' ~ key) -%}
                {%- do null_safe.append(null_safe_equals('landed.' ~ key, 'tested.' ~ key)) -%}
                {%- do has_null.append(key ~ ' is null') -%}
                {%- do tested_null.append('tested.' ~ key ~ ' is null') -%}
            {%- endfor -%}
            {%- set rest = where | replace(keys_marker, '1=1') -%}
            {%- set window = in_run_window(since, column) -%}
            {%- set filtered -%}
                ({{ rows_with_keys(relation, columns, window, equal | join(' and ')) }}
                where {{ rest }}
                {%- if kind != 'unique' %}
                union all
                {{ rows_with_keys(relation, columns, window ~ ' and (' ~ has_null | join(' or ') ~ ')',
                    null_safe | join(' and ')) }}
                where ({{ tested_null | join(' or ') }}) and {{ rest }}
                {%- endif %}) dbt_subquery
            {%- endset -%}
            {{ return(filtered) }}
        {%- endif -%}
    {%- endif -%}
    {%- set filtered -%}
        (select * from {{ relation }} as tested where {{ where }}) dbt_subquery
    {%- endset -%}
    {{ return(filtered) }}
{%- endmacro %}

{#- get_where_subquery's two markers: the window's rows, and every row of the window's keys. -#}
{% macro test_window_markers() %}
    {{ return(['__landing_window__', '__keys_in_landing_window__']) }}
{% endmacro %}

{#- The window start of the data test being run when it checks a window: its `where` holds a marker of
    get_where_subquery and the run passed a window for the tested model; none when the test reads its whole model. -#}
{% macro test_window_start() %}
    {%- set where = config.get('where', '') or '' -%}
    {%- set rows_marker, keys_marker = test_window_markers() -%}
    {%- if rows_marker not in where and keys_marker not in where -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set attached = model.get('attached_node') -%}
    {{ return(run_window_start(attached.split('.')[2] if attached else none)) }}
{% endmacro %}
