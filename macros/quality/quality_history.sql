{#- The quality history (docs/operations.md § Quality history): every run's data tests, source freshness checks and
    reconciliation appended to fct_quality_check_results, one row per check per run. What is recorded is the
    check's identity, its status and its counts: never a failure message (an engine's error can quote a row's
    values), never compiled SQL, never a row. -#}

{#- The dbt commands whose results hold checks (`freshness` is `dbt source freshness`, whose project hooks run in
    dbt 1.10 and later: flags.source_freshness_run_project_hooks). -#}
{% macro quality_recording_commands() %}
    {{- return(['build', 'test', 'freshness', 'run', 'retry']) -}}
{% endmacro %}


{#- on-run-end (dbt_project.yml): record the run's checks. -#}
{% macro record_quality_history(results) %}
    {%- if not execute or flags.WHICH not in quality_recording_commands() -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set outcomes = [] -%}
    {%- for result in results if result.node is defined and result.node.resource_type in ['test', 'source', 'model'] -%}
        {%- set newest = result.max_loaded_at if result.max_loaded_at is defined else none -%}
        {%- set status = quality_status_text(result.status) -%}
        {%- set metadata = result.node.test_metadata if result.node.test_metadata is defined else none -%}
        {%- set merged = metadata is not none and metadata.name == 'column_values' and status in ['warn', 'fail'] -%}
        {%- do outcomes.append({
            'unique_id': result.node.unique_id,
            'status': status,
            'failures': result.failures if result.failures is defined else none,
            'newest': newest.strftime('%Y-%m-%d') if newest else none,
            'compiled': result.node.compiled_code if merged else none}) -%}
    {%- endfor -%}
    {%- do record_quality_checks(outcomes) -%}
    {{- return('') -}}
{% endmacro %}


{#- A result's status as its text ('pass', 'runtime error', …), whatever enum dbt wraps it in. -#}
{% macro quality_status_text(status) %}
    {{- return(status.value if status.value is defined else (status | string)) -}}
{% endmacro %}


{#- `dbt run-operation record_quality_results --args '{outcomes: [...]}'`: what `taglake quality record` calls with
    the outcomes it read from dbt's artifacts (unique_id, status, failures, newest), for checks the hook did not
    record (a freshness check before the history existed, results of another machine). -#}
{% macro record_quality_results(outcomes) %}
    {%- if execute -%}
        {%- set relation = quality_history_relation() -%}
        {%- if relation is none -%}
            {{ exceptions.raise_compiler_error('quality history: ' ~ quality_history_name()
                ~ ' does not exist yet: run `dbt build` (or `taglake build`) first, then record again') }}
        {%- endif -%}
        {%- set recorded = record_quality_checks(outcomes) -%}
        {%- do quality_commit() -%}
        {{ print('quality history: recorded ' ~ recorded ~ ' checks of run ' ~ quality_run_id()) }}
    {%- endif -%}
{% endmacro %}


{#- A run-operation leaves its statements uncommitted (dbt commits hooks, not operations): commit them. Athena has
    no transactions (each statement is its own commit). -#}
{% macro quality_commit() %}
    {{- return(adapter.dispatch('quality_commit', 'taglake')()) -}}
{% endmacro %}

{% macro default__quality_commit() %}
    {%- do adapter.commit() -%}
{% endmacro %}

{% macro athena__quality_commit() %}
{% endmacro %}


{#- The run id rows are recorded under: the var taglake_run_id, else dbt's invocation id. A closed form (Airflow's
    run ids fit it), so that it is safe in SQL text. -#}
{% macro quality_run_id() %}
    {%- set run_id = var('taglake_run_id', invocation_id) | string -%}
    {%- if not modules.re.fullmatch('[A-Za-z0-9_.:+-]{1,200}', run_id) -%}
        {{ exceptions.raise_compiler_error('var taglake_run_id must be 1 to 200 letters, digits or _ . : + -'
            ~ ' (an Airflow run id fits): pass another') }}
    {%- endif -%}
    {{- return(run_id) -}}
{% endmacro %}


{#- The as-of date the run checked: the var taglake_as_of_date, else the newest landing its freshness checks found,
    else the lake calendar's (int_landing_days_summarized), else none. -#}
{% macro quality_as_of_date(outcomes) %}
    {%- set given = var('taglake_as_of_date', none) -%}
    {%- if given -%}
        {%- if not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', given | string) -%}
            {{ exceptions.raise_compiler_error('var taglake_as_of_date must be a date, YYYY-MM-DD') }}
        {%- endif -%}
        {{- return(given | string) -}}
    {%- endif -%}
    {%- set newest = outcomes | map(attribute='newest') | select | list -%}
    {%- if newest -%}
        {{- return(newest | max) -}}
    {%- endif -%}
    {%- set calendar = quality_node_relation(quality_model_id('int_landing_days_summarized')) -%}
    {%- if calendar is not none -%}
        {%- set rows = run_query('select max(as_of_date) from ' ~ calendar).rows -%}
        {%- if rows and rows[0][0] -%}
            {{- return(rows[0][0] | string) -}}
        {%- endif -%}
    {%- endif -%}
    {{- return(none) -}}
{% endmacro %}


{#- The unique id of a model of this project by name. -#}
{% macro quality_model_id(name) %}
    {{- return('model.' ~ project_name ~ '.' ~ name) -}}
{% endmacro %}


{% macro quality_history_name() %}
    {{- return('fct_quality_check_results') -}}
{% endmacro %}


{#- The relation of a model of the graph, or none when it is not built (or the model is disabled). -#}
{% macro quality_node_relation(unique_id) %}
    {%- set node = graph.nodes.get(unique_id) -%}
    {%- if node is none -%}
        {{- return(none) -}}
    {%- endif -%}
    {{- return(adapter.get_relation(database=node.database, schema=node.schema,
                                    identifier=node.alias or node.name)) -}}
{% endmacro %}


{% macro quality_history_relation() %}
    {{- return(quality_node_relation(quality_model_id(quality_history_name()))) -}}
{% endmacro %}


{#- The quality dimension of a check: its test's own meta.quality_dimension, else its kind's (var
    quality_dimensions). A kind with neither fails, naming the test and the fix. -#}
{% macro quality_dimension_of(kind, meta, what) %}
    {%- set dimension = (meta or {}).get('quality_dimension') or var('quality_dimensions').get(kind) -%}
    {%- if dimension not in ['completeness', 'accuracy', 'consistency', 'timeliness', 'validity'] -%}
        {{ exceptions.raise_compiler_error('quality history: ' ~ what ~ ' (kind ' ~ kind ~ ') has no quality'
            ~ ' dimension: add its kind to the var quality_dimensions in dbt_project.yml, or give the test'
            ~ ' meta: {quality_dimension: completeness|accuracy|consistency|timeliness|validity}') }}
    {%- endif -%}
    {{- return(dimension) -}}
{% endmacro %}


{#- The model (or seed, snapshot, source) a test checks, from the graph: its attached node, else the first node it
    reads. -#}
{% macro quality_tested_node(test) %}
    {%- set candidates = ([test.attached_node] if test.attached_node else []) + test.depends_on.nodes -%}
    {%- for unique_id in candidates -%}
        {%- if unique_id in graph.nodes -%}
            {{- return(graph.nodes[unique_id]) -}}
        {%- elif unique_id in graph.sources -%}
            {{- return(graph.sources[unique_id]) -}}
        {%- endif -%}
    {%- endfor -%}
    {{- return(none) -}}
{% endmacro %}


{#- (name, layer) of a checked node: `source.table` and raw for a source, else its name and its access layer. -#}
{% macro quality_node_place(node) %}
    {%- if node is none -%}
        {{- return(('(project)', 'marts')) -}}
    {%- elif node.resource_type == 'source' -%}
        {{- return((node.source_name ~ '.' ~ node.name, 'raw')) -}}
    {%- endif -%}
    {{- return((node.name, access_layer(node))) -}}
{% endmacro %}


{#- The rows of one outcome: its row (quality_row_of), except for a `column_values` test (tests/generic/
    column_values.sql), which checks several columns in one query and is recorded as one row per check, as if each
    were its own test: `not_null_<model>_<column>`, `accepted_values_<model>_<column>` or
    `expression_is_true_<model>_<column>`, with its kind, column and dimension. A test that passed passes every
    check (0 rows failing). One that failed or warned gives each check its own count: the test's compiled query (its
    window included; from the run's results in the hook, from run_results.json through `taglake quality record`)
    is run again and returns only kinds, columns and counts; a check it does not return passed. For an error or a
    skip, or without the compiled query, the test is one row of kind column_values. -#}
{% macro quality_rows_of(outcome) %}
    {%- set row = quality_row_of(outcome) -%}
    {%- if row is none -%}
        {{- return([]) -}}
    {%- elif row.check_kind != 'column_values' or row.status not in ['pass', 'warn', 'fail']
             or (row.status != 'pass' and not outcome.get('compiled')) -%}
        {{- return([row]) -}}
    {%- endif -%}
    {%- set failing = {} -%}
    {%- if row.status != 'pass' -%}
        {%- set found = run_query('select check_kind, column_name, failing_rows from (' ~ outcome.compiled
                                  ~ ') as checked') -%}
        {%- for check in found.rows -%}
            {%- do failing.update({check[0] ~ '.' ~ check[1]: check[2] | int}) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- set test = graph.nodes[outcome.unique_id] -%}
    {%- set rows = [] -%}
    {%- set kwargs = test.test_metadata.kwargs -%}
    {%- for check in column_value_targets(kwargs.get('not_null'), kwargs.get('accepted_values'),
                                          kwargs.get('expression_is_true')) -%}
        {%- set name = check.kind ~ '_' ~ row.model ~ '_' ~ check.column -%}
        {%- set count = failing.get(check.kind ~ '.' ~ check.column, 0) -%}
        {%- do rows.append({'check_id': 'test.' ~ test.package_name ~ '.' ~ name, 'check_name': name,
            'check_kind': check.kind, 'model': row.model, 'layer': row.layer, 'column_name': check.column,
            'quality_dimension': quality_dimension_of(check.kind, test.config.meta, 'test ' ~ test.name),
            'severity': row.severity, 'failing_rows': count, 'checked_rows': none,
            'status': row.status if count > 0 else 'pass'}) -%}
    {%- endfor -%}
    {{- return(rows) -}}
{% endmacro %}


{#- The row of one test or freshness outcome, or none for what is no check. Status words: a test's own (pass, warn,
    fail, error, skipped); a freshness check's error (stale beyond its error limit) is fail, its runtime error is
    error. -#}
{% macro quality_row_of(outcome) %}
    {%- set unique_id = outcome.unique_id -%}
    {%- set status = outcome.status | string -%}
    {%- if unique_id in graph.sources -%}
        {%- set source = graph.sources[unique_id] -%}
        {%- set name, layer = quality_node_place(source) -%}
        {{- return({'check_id': unique_id ~ '.freshness', 'check_name': 'freshness of ' ~ name,
            'check_kind': 'source_freshness', 'model': name, 'layer': layer, 'column_name': none,
            'quality_dimension': quality_dimension_of('source_freshness', {}, 'the freshness of ' ~ name),
            'severity': none, 'failing_rows': none, 'checked_rows': none,
            'status': {'pass': 'pass', 'warn': 'warn', 'error': 'fail'}.get(status, 'error')}) -}}
    {%- endif -%}
    {%- set test = graph.nodes.get(unique_id) -%}
    {%- if test is none or test.resource_type != 'test' -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set kind = test.test_metadata.name if test.test_metadata else test.name -%}
    {%- set name, layer = quality_node_place(quality_tested_node(test)) -%}
    {%- set counted = status in ['pass', 'warn', 'fail'] and outcome.failures is not none -%}
    {#- The test's unique id without dbt's hash suffix (ten hex digits, which can read as a national ID: the privacy
        guard would drop the history). A test's name is unique in its project. -#}
    {{- return({'check_id': 'test.' ~ test.package_name ~ '.' ~ test.name, 'check_name': test.name, 'check_kind': kind, 'model': name, 'layer': layer,
        'column_name': test.column_name or none,
        'quality_dimension': quality_dimension_of(kind, test.config.meta, 'test ' ~ test.name),
        'severity': (test.config.severity | string | lower) if test.config.severity else none,
        'failing_rows': (outcome.failures | int) if counted else none, 'checked_rows': none,
        'status': status if status in ['pass', 'warn', 'fail', 'skipped'] else 'error'}) -}}
{% endmacro %}


{#- The reconciliation rows, when the run built the reconciliation marts: per raw table, over the whole lake
    (fct_source_reconciliation: rows landed = accepted + collapsed + quarantined, else fail) and for its newest
    landing day (fct_raw_intake_daily: rows quarantined of rows landed). Counts only. -#}
{% macro quality_reconciliation_rows(outcomes) %}
    {%- set built = outcomes | selectattr('status', 'equalto', 'success') | map(attribute='unique_id') | list -%}
    {%- set rows = [] -%}
    {%- set lake = quality_model_id('fct_source_reconciliation') -%}
    {%- set daily = quality_model_id('fct_raw_intake_daily') -%}
    {%- if lake in built -%}
        {%- set sql -%}
            select
                source_table,
                raw_rows,
                quarantined_rows,
                case when raw_rows = accepted_rows + collapsed_rows + quarantined_rows and collapsed_rows >= 0
                    then 'pass' else 'fail' end as status
            from {{ quality_node_relation(lake) }}
        {%- endset -%}
        {%- for row in run_query(sql).rows -%}
            {%- do rows.append(quality_count_row('reconciliation', row[0], row[1], row[2], row[3], lake)) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if daily in built -%}
        {%- set sql -%}
            select
                daily.source_table,
                daily.raw_rows,
                daily.quarantined_rows
            from {{ quality_node_relation(daily) }} as daily
            inner join (
                select
                    source_table,
                    max(landing_date) as landing_date
                from {{ quality_node_relation(daily) }}
                group by source_table
            ) as newest
                on daily.source_table = newest.source_table and daily.landing_date = newest.landing_date
        {%- endset -%}
        {%- for row in run_query(sql).rows -%}
            {%- do rows.append(quality_count_row('quarantine', row[0], row[1], row[2], 'pass', daily)) -%}
        {%- endfor -%}
    {%- endif -%}
    {{- return(rows) -}}
{% endmacro %}


{#- One reconciliation or quarantine row: `source_table` is a declared `source.table` (it is checked to be one, so
    no other text reaches the history). -#}
{% macro quality_count_row(kind, source_table, landed, quarantined, status, model_id) %}
    {%- set declared = graph.sources.values() | map(attribute='source_name') | list -%}
    {%- set known = [] -%}
    {%- for source in graph.sources.values() -%}
        {%- do known.append(source.source_name ~ '.' ~ source.name) -%}
    {%- endfor -%}
    {%- set name = source_table if source_table in known else '(undeclared table)' -%}
    {{- return({'check_id': kind ~ '.' ~ name, 'check_name': kind ~ ' of ' ~ name, 'check_kind': kind,
        'model': name, 'layer': 'raw', 'column_name': none,
        'quality_dimension': quality_dimension_of(kind, {}, kind ~ ' of ' ~ name),
        'severity': none, 'failing_rows': quarantined | int, 'checked_rows': landed | int, 'status': status}) -}}
{% endmacro %}


{#- Record outcomes (dicts: unique_id, status, failures, newest) under the run id: delete the run's rows of these
    checks, then insert them, so recording a run again leaves one row per check. Returns how many were recorded;
    nothing happens when there is no check or no history table yet (said in the log). -#}
{% macro record_quality_checks(outcomes) %}
    {%- set rows = [] -%}
    {%- for outcome in outcomes -%}
        {%- do rows.extend(quality_rows_of(outcome)) -%}
    {%- endfor -%}
    {%- do rows.extend(quality_reconciliation_rows(outcomes)) -%}
    {%- if not rows -%}
        {{- return(0) -}}
    {%- endif -%}
    {%- set relation = quality_history_relation() -%}
    {%- if relation is none -%}
        {% do log('quality history: ' ~ quality_history_name() ~ ' is not built yet: ' ~ rows | length
            ~ ' checks not recorded (`taglake quality record` records them after the build)', info=true) %}
        {{- return(0) -}}
    {%- endif -%}
    {%- set run_id = quality_run_id() -%}
    {%- set as_of = quality_as_of_date(outcomes) -%}
    {%- set recorded_at = modules.datetime.datetime.utcnow().strftime('%Y-%m-%d %H:%M:%S') -%}
    {%- set by_id = {} -%}
    {%- for row in rows -%}
        {%- do by_id.update({row.check_id: row}) -%}
    {%- endfor -%}
    {%- set unique_rows = by_id.values() | list -%}
    {%- for chunk in unique_rows | batch(100) -%}
        {%- do run_query(quality_delete_sql(relation, run_id, chunk | map(attribute='check_id') | list)) -%}
    {%- endfor -%}
    {%- for chunk in unique_rows | batch(100) -%}
        {%- do run_query(quality_insert_sql(relation, run_id, as_of, recorded_at, chunk)) -%}
    {%- endfor -%}
    {{- return(unique_rows | length) -}}
{% endmacro %}


{#- A SQL text literal of a project-made text (names, ids, words): quotes doubled. -#}
{% macro quality_literal(value) %}
    {%- if value is none -%}
        {{- return('null') -}}
    {%- endif -%}
    {{- return("'" ~ (value | string | replace("'", "''")) ~ "'") -}}
{% endmacro %}


{% macro quality_delete_sql(relation, run_id, check_ids) %}
    {%- set ids = [] -%}
    {%- for check_id in check_ids -%}
        {%- do ids.append(quality_literal(check_id)) -%}
    {%- endfor -%}
    {{- return('delete from ' ~ relation ~ ' where run_id = ' ~ quality_literal(run_id)
               ~ ' and check_id in (' ~ ids | join(', ') ~ ')') -}}
{% endmacro %}


{% macro quality_insert_sql(relation, run_id, as_of, recorded_at, rows) %}
    {%- set values = [] -%}
    {%- for row in rows -%}
        {%- set numbers = [] -%}
        {%- for count in [row.failing_rows, row.checked_rows] -%}
            {%- do numbers.append('cast(null as bigint)' if count is none else 'cast(' ~ (count | int) ~ ' as bigint)') -%}
        {%- endfor -%}
        {%- do values.append('(' ~ [
            quality_literal(run_id), quality_literal(invocation_id),
            'cast(null as date)' if as_of is none else 'cast(' ~ quality_literal(as_of) ~ ' as date)',
            'cast(' ~ quality_literal(recorded_at) ~ ' as timestamp)',
            quality_literal(row.check_id), quality_literal(row.check_name), quality_literal(row.check_kind),
            quality_literal(row.model), quality_literal(row.layer), quality_literal(row.column_name),
            quality_literal(row.quality_dimension), quality_literal(row.severity), quality_literal(row.status),
            numbers[0], numbers[1]] | join(', ') ~ ')') -%}
    {%- endfor -%}
    {{- return('insert into ' ~ relation ~ ' (run_id, invocation_id, as_of_date, recorded_at, check_id, check_name,'
               ~ ' check_kind, model, layer, column_name, quality_dimension, severity, status, failing_rows,'
               ~ ' checked_rows) values ' ~ values | join(', ')) -}}
{% endmacro %}
