{#- Incremental processing by landing partition (docs/daily-runs.md).

    A run reprocesses the landing partitions from `landing_window_start()` on: the newest landing date the model
    already holds minus `late_arrival_lookback_days` (window_from_newest; in a daily run counted from the run's
    newest landing day, so a sparse feed stops re-reading its last partition once the lookback has passed). The start is read from the model's own table, so a model a
    killed run left behind catches up by itself on the next run. On a first build or a full refresh there is no
    window (none): the model reads everything. Compiled without introspection (`dbt compile --no-introspect`, how
    the AWS targets compile offline) nothing is asked of the database, and the model compiles as a first build. -#}
{% macro landing_window_start(column='landing_date') %}
    {%- if not execute or not flags.INTROSPECT -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set latest = none -%}
    {#- a table built before the model gained its window column (a model that became incremental) has no window:
        the run reads everything and replaces every group, and append_new_columns adds the column -#}
    {%- if is_incremental() and column | lower in adapter.get_columns_in_relation(this)
                                                | map(attribute='name') | map('lower') | list -%}
        {%- set result = run_query('select max(' ~ column ~ ') from ' ~ this) -%}
        {%- set latest = result.columns[0].values()[0] -%}
    {%- endif -%}
    {%- if latest is not none -%}
        {%- set latest = modules.datetime.date.fromisoformat((latest | string)[:10]) -%}
    {%- endif -%}
    {#- A daily run's tests and privacy guard check the window the runner passed (run_window_start), computed from
        the newest landing it read from this table before the build: it must be what the table holds now, so a
        window that is not (a table that moved on, a model the runner saw built that is now built from scratch, a
        date typed by hand) stops the model before it writes. -#}
    {%- set landings = run_window_landings() -%}
    {%- set passed = landings.get(model.name) if landings else none -%}
    {%- if passed is not none and passed != latest -%}
        {{ exceptions.raise_compiler_error(
            'TAGLAKE_RUN_WINDOW: ' ~ model.name ~ ' was passed ' ~ passed ~ ' as its newest landing but its table '
            ~ ('is being built from scratch' if latest is none else 'holds ' ~ latest)
            ~ '; run it through taglake run-daily, which reads the window from the tables') }}
    {%- endif -%}
    {%- set start = none if latest is none else window_from_newest(latest, run_window_anchor(), model.name) -%}
    {{ return(start) }}
{% endmacro %}

{#- The first landing date a run reprocesses when the newest it held was `newest` (a date) and the run's newest
    landing day is `anchor` (run_window_anchor: the newest any incremental model held; none: `newest` itself): the
    day after `newest` or the anchor minus the lookback (var late_arrival_lookback_days), whichever is earlier. The
    one place the lookback is applied, for the models (landing_window_start) and for what tests and the guard check in
    a daily run (run_window_start).

    A feed that lands every day holds the anchor, so its window is the lookback's days before it. A sparse feed
    (scores and outcomes land on scoring days only) holds an older day: its window starts the day after it once the
    lookback has passed it, so a daily run does not re-read the last scoring day's partition until the next one.

    In a daily run the runner also passes, per model, the earliest landing date whose raw files changed since the
    last run that passed (run_window_changes, from the runner's ledger: taglake.ops.run_ledger). The lookback is
    then read from that date on instead of its first day, never earlier than the lookback's first day nor later
    than the day after `newest`; nothing changed upstream: the day after `newest`. A model the runner names no
    change for keeps the lookback rule. -#}
{% macro window_from_newest(newest, anchor=none, model_name=none) %}
    {%- set lookback = var('late_arrival_lookback_days') | int -%}
    {%- set day = modules.datetime.timedelta(days=1) -%}
    {%- set anchored = (newest if anchor is none else anchor) - modules.datetime.timedelta(days=lookback) -%}
    {%- set changes = run_window_changes() if model_name is not none else none -%}
    {%- if changes is not none and model_name in changes -%}
        {%- set changed = changes[model_name] -%}
        {{ return(newest + day if changed is none else [newest + day, [changed, anchored] | max] | min) }}
    {%- endif -%}
    {{ return([newest + day, anchored] | min) }}
{% endmacro %}

{#- A predicate on the raw partition columns (year/month/day) that keeps partitions landed on or after `start`:
    comparisons of each partition column with a constant, joined by and/or, so every engine prunes files and
    partitions before reading. DuckDB prunes this form even where the read is joined (the base models' cross join
    with the masking keys); `year * 10000 + month * 100 + day >= …`, the earlier form, it then filtered row by row
    after every check of every row of every file (docs/performance.md). taglake.bench.athena_sql reads the start
    back from this form. -#}
{% macro raw_partitions_since(start) -%}
    (year > {{ start.year }} or (year = {{ start.year }} and (month > {{ start.month }} or (month = {{ start.month }} and day >= {{ start.day }}))))
{%- endmacro %}

{#- A predicate keeping rows whose `column` (a date) is on or after `start`. -#}
{% macro landed_since(start, column='landing_date') -%}
    {{ column }} >= cast('{{ start.isoformat() }}' as date)
{%- endmacro %}
{#- `column` within the constant bounds `first` and `last` (dates; either may be none: no bound on that side), as one
    predicate, `true` when there is neither: built_as_of_date's bounds in a model's `where` without a template block
    around them (a block there lints differently with and without the bounds). `cast_as`: the bounds' SQL type. -#}
{% macro constant_bounds(column, first, last=none, cast_as='date') -%}
    {%- set parts = [] -%}
    {%- if first -%}
        {%- do parts.append(column ~ " >= cast('" ~ first.isoformat() ~ "' as " ~ cast_as ~ ")") -%}
    {%- endif -%}
    {%- if last -%}
        {%- do parts.append(column ~ " <= cast('" ~ last.isoformat() ~ "' as " ~ cast_as ~ ")") -%}
    {%- endif -%}
    {{ parts | join(' and ') if parts else 'true' }}
{%- endmacro %}

{#- The lake's as-of date as `calendar` (int_landing_days_summarized, which the calling model refs: built before it)
    holds it, for constant bounds a model adds to a date window it otherwise takes from a join to the calendar: the
    engine skips storage by constants (DuckDB's zone maps), never by a join's values. One introspective query;
    none while parsing, offline (no introspection), when the calendar is not built yet (`dbt compile`, `dbt docs
    generate` or sqlfluff's templater on a fresh database: the model's SQL is the same without the bounds) or empty
    (the join's bounds alone). -#}
{% macro built_as_of_date(calendar) %}
    {%- if not execute or not flags.INTROSPECT or load_relation(calendar) is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set value = run_query('select max(as_of_date) from ' ~ calendar).columns[0].values()[0] -%}
    {%- if value is none -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(modules.datetime.date.fromisoformat((value | string)[:10])) }}
{% endmacro %}

{#- The landing date of a raw row, from its year/month/day partition columns (portable SQL, see the var). -#}
{% macro landing_date() -%}
    cast({{ var('raw_landed_at') }} as date)
{%- endmacro %}

{#- Two CTEs of a model replaced per group (group_replace_incremental, or a merge on the group key): `touched`, the
    groups of `relation` (a CTE) that hold a row whose `column` is on or after `since`, and `in_window`, every row
    of those groups, from which the model recomputes them whole. `floor`, when given, is a (date column, date) pair
    that every row of a touched group is known to be on or after (month_floor_landed_since): a constant filter the
    engine applies as it reads, before the join, where a group column computed from that date (a month) cannot be
    pushed down.
    The caller declares `relation` `as {{ not_materialized() }} (`: read twice, DuckDB would otherwise copy every
    row of it, of all history, before either read (9 s for the 32 M score rows at the large scale, every day), where
    inlined `touched` reads its filter's columns only and `in_window` joins what it reads to the touched groups
    (nothing at all when no row landed: a join with an empty side).
    `touched_from`, when given, is a CTE over the same rows holding the group columns and `column`, which `touched`
    reads instead of `relation`: for a `relation` that reads an ephemeral model, which dbt inlines as a CTE of its
    own that DuckDB would copy whole (every row of all history, before any filter) once read twice. -#}
{% macro touched_groups(relation, group_columns, since, column='landing_date', floor=none, touched_from=none) -%}
touched as (
    select distinct
        {{ group_columns | join(',\n        ') }}
    from {{ touched_from or relation }}
    where {{ landed_since(since, column) }}
),

in_window as (
    select {{ relation }}.*
    from {{ relation }}
    inner join touched
        on
            {% for c in group_columns -%}
            {{ relation }}.{{ c }} = touched.{{ c }}{{ '\n            and ' if not loop.last }}
            {%- endfor %}
    {%- if floor %}
    where {{ landed_since(floor[1], relation ~ '.' ~ floor[0]) }}
    {%- endif %}
),
{%- endmacro %}

{#- The earliest `date_column` among the rows of `relation` (a built relation) landed on or after `since`, as a date,
    for touched_groups' floor when its groups are days of `date_column`: every row of a touched group falls on or
    after it. One introspective query in an incremental run; none (no floor) on a first build, offline (no
    introspection) or when nothing landed. -#}
{% macro earliest_landed_since(relation, date_column, since, column='landing_date') %}
    {%- if since is none or not execute or not flags.INTROSPECT -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set sql = 'select min(' ~ date_column ~ ') from ' ~ relation ~ ' where ' ~ landed_since(since, column) -%}
    {%- set earliest = run_query(sql).columns[0].values()[0] -%}
    {%- if earliest is none -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(modules.datetime.date.fromisoformat((earliest | string)[:10])) }}
{% endmacro %}

{#- The first day of the month of earliest_landed_since, as (date_column, that day), for touched_groups' floor when
    its groups are months of `date_column`: every row of a touched group falls in a month on or after it; none when
    earliest_landed_since is none. -#}
{% macro month_floor_landed_since(relation, date_column, since, column='landing_date') %}
    {%- set day = earliest_landed_since(relation, date_column, since, column) -%}
    {{ return((date_column, day.replace(day=1)) if day is not none else none) }}
{% endmacro %}

{#- Per value of `source_column` in an incremental model's own table (a union of sources' raw rows): the first
    landing date a run reprocesses for that source, window_from_newest of the newest landing_date the table holds for
    it. It is on or before the window of the source's own base table (the newest it holds for a source is on or
    before the newest its base table holds, and window_from_newest is monotone), so every partition the base table
    rewrote is read again. A source with no row yet is read whole. None on a first build, a full refresh or offline
    (read everything); in a daily run the model's window is checked as landing_window_start checks it. -#}
{% macro source_window_starts(source_column) %}
    {%- if landing_window_start() is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set rows = run_query('select ' ~ source_column ~ ', max(landing_date) from ' ~ this ~ ' group by 1') -%}
    {%- set anchor = run_window_anchor() -%}
    {%- set starts = {} -%}
    {%- for row in rows -%}
        {%- set newest = modules.datetime.date.fromisoformat((row[1] | string)[:10]) -%}
        {%- do starts.update({row[0]: window_from_newest(newest, anchor, model.name)}) -%}
    {%- endfor -%}
    {{ return(starts) }}
{% endmacro %}

{#- The rows of `source` a run reads again: landed on or after its start in `starts` (source_window_starts), all
    of them when it has none; `true` without a window. -#}
{% macro source_landed_since(starts, source) -%}
    {%- if starts is none or source not in starts -%}
        true
    {%- else -%}
        {{ landed_since(starts[source]) }}
    {%- endif -%}
{%- endmacro %}

{#- A predicate keeping the rows of `rows` (a CTE's name) whose key `key_columns` the model's own table does not
    hold from a landing before the window's start `since` (first landed wins: a staged feed's key landed again in the
    window stays with its first landing). The one way such a model reads its own table: on DuckDB its pre-hook has
    deleted the window's rows when the query runs (delete_landing_window), and the rows this reads are older
    (query_view_as checks that the table is read here only). -#}
{% macro not_landed_before_window(rows, key_columns, since, bounded_by=none) -%}
    {%- if bounded_by is not none
        and not held_rows_may_match(bounded_by[0], bounded_by[1], since, before_window=true) -%}
    true
    {%- else -%}
    not exists (
        select 1
        from {{ this }} as landed_before_window
        where
            {%- for column in key_columns %}
            landed_before_window.{{ column }} = {{ rows }}.{{ column }} and
            {%- endfor %}
            landed_before_window.landing_date < cast('{{ since.isoformat() }}' as date)
    )
    {%- endif -%}
{%- endmacro %}

{#- Whether the model's own table may hold a row that a comparison on `column` could match with a row of
    `relation` landed from `since` on (the window's rows, or a superset of them): a row, landed before the window with
    `before_window`, whose `column` is at or above the least value those rows hold and, with `up_to_most`, at or below
    the greatest. False proves that a predicate comparing each window row with the table's rows on `column` matches
    none: an equality on a key column (not_landed_before_window's `bounded_by`), or `held >= window` (a held row a
    window row must not be older than), so the caller leaves the predicate out. At the large scale on a scoring day
    that is an anti join of 2.9 M rows each, in the staged scores and in the latest score, and this one query reads
    the column's range (docs/performance.md). True — keep the predicate — without a window, while parsing and
    offline (no introspection). -#}
{% macro held_rows_may_match(column, relation, since, before_window=false, up_to_most=true) %}
    {%- if since is none or not execute or not flags.INTROSPECT -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set sql -%}
        select count(*) from (
            select 1
            from {{ this }} as held_row
            cross join (
                select min({{ column }}) as low, max({{ column }}) as high
                from {{ relation }}
                where {{ landed_since(since) }}
            ) as window_range
            where
                held_row.{{ column }} >= window_range.low
                {%- if up_to_most %}
                and held_row.{{ column }} <= window_range.high
                {%- endif %}
                {%- if before_window %}
                and not ({{ landed_since(since, 'held_row.landing_date') }})
                {%- endif %}
            limit 1
        ) as held
    {%- endset -%}
    {{ return(run_query(sql).columns[0].values()[0] > 0) }}
{% endmacro %}

{#- The pre-hook of a raw-row model on DuckDB (duckdb__landing_partition_incremental): delete the rows landed from
    the model's window start on (landing_window_start: the partitions the run reads again), every row without a
    window, so that the append puts back exactly what those partitions hold now (a partition whose files are gone
    loses its rows). Nothing on a first build or a full refresh (the table is created from the select). -#}
{% macro delete_landing_window() %}
    {%- if not is_incremental() -%}
        {{ return('') }}
    {%- endif -%}
    {%- set since = landing_window_start() -%}
    delete from {{ this }}{% if since is not none %} where {{ landed_since(since) }}{% endif %}
{% endmacro %}

{#- The pre-hook of source_partition_replace_incremental: delete the rows a run reads again (each source's rows
    from its start on, a source without a start whole), so that the append puts back exactly what the sources hold
    now. Nothing on a first build or a full refresh (the table is created from the select). -#}
{% macro delete_source_windows(source_column) %}
    {%- set starts = source_window_starts(source_column) -%}
    {%- if starts is none -%}
        {{ return('') }}
    {%- endif -%}
    {%- set kept = [] -%}
    {%- for source, start in starts.items() -%}
        {%- do kept.append('(' ~ source_column ~ ' = ' ~ "'" ~ (source | replace("'", "''")) ~ "'"
            ~ ' and not ' ~ landed_since(start) ~ ')') -%}
    {%- endfor -%}
    delete from {{ this }} where not ({{ kept | join(' or ') if kept else 'false' }})
{% endmacro %}
