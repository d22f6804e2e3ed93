{#- The reader of a raw source table for a run that reads the landing partitions from `since` on (a date; none: the
    whole table). Every engine keeps the source's own relation, which raw_partitions_since prunes to the window;
    the caller always adds that predicate. -#}
{% macro raw_source(source_name, table_name, since=none) %}
    {{- return(adapter.dispatch('raw_source', 'taglake')(source_name, table_name, since)) -}}
{% endmacro %}

{% macro default__raw_source(source_name, table_name, since=none) %}
    {{- return(source(source_name, table_name)) -}}
{% endmacro %}

{#- DuckDB: a CSV source read with union_by_name (each file's header and line ends sniffed on its own) sniffs
    every file its glob matches before any partition is pruned, so a one-day run paid for the whole history (2 s
    of 2.4 s for the accounts' window at the medium scale). With a window, the glob is replaced by the list of the
    files in the window's partitions (listed once, at compile time); the partition predicate stays. Only for CSV:
    the pre-flight (taglake check-lake) holds every CSV header to exactly the declared columns, so the files of any
    window read with the same columns as the whole table. A Parquet file may lack a column added to its feed later,
    so a Parquet window could lack a column the model reads: Parquet sources keep their glob (their footers are
    cheap to read). No file in the window: the glob, which then reads no row. -#}
{% macro duckdb__raw_source(source_name, table_name, since=none) %}
    {%- set relation = source(source_name, table_name) -%}
    {%- if since is none or not execute -%}
        {{- return(relation) -}}
    {%- endif -%}
    {%- set node = graph.sources.get('source.' ~ project_name ~ '.' ~ source_name ~ '.' ~ table_name) -%}
    {%- set meta = node.config.meta if node and node.config and node.config.meta else (node.meta if node else {}) -%}
    {%- set reader = relation | string -%}
    {%- set glob = modules.re.match("\\s*read_csv\\(\\s*('(?:[^']|'')*')", reader) -%}
    {%- if meta.get('format') != 'csv' or glob is none or 'union_by_name=true' not in reader -%}
        {{- return(relation) -}}
    {%- endif -%}
    {%- set listing -%}
        select file
        from (
            select
                file,
                try_cast(parts['year'] as integer) as year,
                try_cast(parts['month'] as integer) as month,
                try_cast(parts['day'] as integer) as day
            from (
                select
                    file,
                    regexp_extract(file, '/year=([^/]*)/month=([^/]*)/day=([^/]*)/[^/]*$', ['year', 'month', 'day'])
                        as parts
                from glob({{ glob.group(1) }})
            ) as listed
        ) as partitioned
        where {{ raw_partitions_since(since) }}
        order by file
    {%- endset -%}
    {%- set files = run_query(listing).columns[0].values() -%}
    {%- if files | length == 0 -%}
        {{- return(relation) -}}
    {%- endif -%}
    {%- set quoted = [] -%}
    {%- for file in files -%}
        {%- do quoted.append("'" ~ (file | replace("'", "''")) ~ "'") -%}
    {%- endfor -%}
    {{- return(reader[:glob.start(1)] ~ '[' ~ quoted | join(', ') ~ ']' ~ reader[glob.end(1):]) -}}
{% endmacro %}
