{#- A table built one calendar month at a time (DuckDB). A model whose every row is computed from the rows of one
    calendar month of its inputs (each input's month read from one of its columns: the same month for every input
    of a row, and every group, join key and window partition holding the month) marks each input's filter with
    month_part(column, relation). On DuckDB, where the whole table is created (a full build, a first incremental
    run), duckdb__create_table_as then creates it empty and fills it with one insert per month from the first to
    the last month the marked columns hold, each insert reading only that month of every input (constant bounds:
    DuckDB reads only the storage blocks of the month), and one for the rows whose marked columns are null. The
    table is the same as one statement's (the model's rows are the union of its months'), but each statement's
    joins and groups hold one month, not all of them at once: agg_model_performance_monthly at the large scale,
    alone on a built database, 37.7 s as one statement against 21.1 s as 13, where the one statement's hash tables
    of 32 M outcomes and 64-character tokens spill to disk (docs/performance.md). One statement with a union all of
    the months (31.9 s) or a materialized CTE per month (36.0 s) holds them all the same; a filter on the month
    around the whole query reaches no scan (244 s).
    Anywhere else the mark is `true`: a daily run's temporary relation, the unit tests, Athena and Redshift. -#}
{% macro month_part(column, relation) %}
    {{- return(adapter.dispatch('month_part', 'taglake')(column, relation)) -}}
{% endmacro %}

{% macro default__month_part(column, relation) -%}
    true
{%- endmacro %}

{% macro duckdb__month_part(column, relation) -%}
    (true /* taglake_month_part {{ column }} in {{ relation }} */)
{%- endmacro %}

{#- The pattern of a mark in compiled SQL: its column (group 1) and relation (group 2). -#}
{% macro month_part_pattern() -%}
    {{- return('\\(true /\\* taglake_month_part (\\w+) in (.+?) \\*/\\)') -}}
{%- endmacro %}

{#- The selects a table marked with month_part is filled with, one per month and one for nulls (a list of SQL
    strings), or an empty list when `compiled_code` holds no mark. The months run from the earliest to the latest
    value any marked column holds in its relation. -#}
{% macro month_parts(compiled_code) %}
    {%- set pattern = month_part_pattern() -%}
    {%- set marks = modules.re.findall(pattern, compiled_code) -%}
    {%- if not marks -%}
        {{- return([]) -}}
    {%- endif -%}
    {%- set firsts, lasts = [], [] -%}
    {%- for column, relation in marks | unique -%}
        {%- set found = run_query('select min(' ~ column ~ '), max(' ~ column ~ ') from ' ~ relation).rows[0] -%}
        {%- if found[0] is not none -%}
            {%- do firsts.append(modules.datetime.date(found[0].year, found[0].month, 1)) -%}
            {%- do lasts.append(modules.datetime.date(found[1].year, found[1].month, 1)) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set parts = [modules.re.sub(pattern, '(\\1 is null)', compiled_code)] -%}
    {%- if not firsts -%}
        {{- return(parts) -}}
    {%- endif -%}
    {%- set first, last = firsts | min, lasts | max -%}
    {%- set months = (last.year - first.year) * 12 + last.month - first.month + 1 -%}
    {%- if months > 1200 -%}
        {{ exceptions.raise_compiler_error(
            model.name ~ ": month_part's columns span more than 1,200 months: build it as one statement") }}
    {%- endif -%}
    {%- for index in range(first.month - 1, first.month - 1 + months) -%}
        {%- set start = modules.datetime.date(first.year + index // 12, index % 12 + 1, 1) -%}
        {%- set stop = (start + modules.datetime.timedelta(days=32)).replace(day=1) -%}
        {%- set bounded = "(\\1 >= '" ~ start.isoformat() ~ "' and \\1 < '" ~ stop.isoformat() ~ "')" -%}
        {%- do parts.append(modules.re.sub(pattern, bounded, compiled_code)) -%}
    {%- endfor -%}
    {{- return(parts) -}}
{% endmacro %}
