{#- Where a raw row came from: its file, relative to the raw zone's root (the lake's raw/ folder locally, the raw
    bucket on S3), e.g. `crm/customers/year=2026/month=01/day=03/customers_20260103.csv`; never the machine's
    absolute path nor the bucket. Each engine names the file of a row in its own pseudo column (raw_file_path).

    The path is a value nobody declared: a producer may put anything in a file name, a national ID included. So it
    is kept only in the closed form the source YAML declares — `<raw_prefix>/<table>/year=…/month=…/day=…/` and
    the table's `file_name` with YYYYMMDD as eight digits. A file whose name is in another form keeps its partition
    folder and a fixed marker in place of the name; a path in no partition (never read by the glob) keeps the table
    folder and the marker. Not a line number: no engine's CSV reader gives one (docs/privacy.md). -#}
{% macro raw_source_file(source_name, table_name, relation='') %}
    {%- set prefix, stem, ext = raw_file_form(source_name, table_name) -%}
    {%- set path = raw_file_path(relation) -%}
    {%- set folder = prefix ~ '/' ~ table_name ~ '/year=[0-9]{4}/month=[0-9]{1,2}/day=[0-9]{1,2}/' -%}
    {%- set undeclared = '(a file name not in the declared form)' -%}
    coalesce(
        {{ regex_extract(path, '(' ~ folder ~ stem ~ '[0-9]{8}[.]' ~ ext ~ ')$', 1) }},
        {{ regex_extract(path, '(' ~ folder ~ ')[^/]*$', 1) }} || '{{ undeclared }}',
        '{{ prefix }}/{{ table_name }}/{{ undeclared }}'
    )
{%- endmacro %}


{#- The declared form of a raw table's files: (raw_prefix, file-name stem before YYYYMMDD, extension), from the
    source YAML (`raw_prefix`, `file_name: <stem>YYYYMMDD.<ext>`). Placeholders while dbt parses. -#}
{% macro raw_file_form(source_name, table_name) %}
    {%- if not execute -%}
        {{- return(('raw', 'file_', 'csv')) -}}
    {%- endif -%}
    {%- set node = graph.sources['source.' ~ project_name ~ '.' ~ source_name ~ '.' ~ table_name] -%}
    {%- set file_name = node.meta.get('file_name', '') -%}
    {%- set stem, sep, ext = file_name.partition('YYYYMMDD.') -%}
    {%- if not sep or not stem or not ext -%}
        {{ exceptions.raise_compiler_error(
            source_name ~ '.' ~ table_name ~ ': meta.file_name must be <stem>YYYYMMDD.<ext> in the source YAML') }}
    {%- endif -%}
    {%- for part in [stem, ext, node.meta.get('raw_prefix', source_name)] -%}
        {%- if modules.re.fullmatch('[a-z0-9_]+', part) is none -%}
            {{ exceptions.raise_compiler_error(
                source_name ~ '.' ~ table_name ~ ': raw_prefix and file_name may hold only a-z, 0-9 and _') }}
        {%- endif -%}
    {%- endfor -%}
    {{- return((node.meta.get('raw_prefix', source_name), stem, ext)) -}}
{% endmacro %}


{#- The engine's own name for the file a raw row was read from (a full path or S3 URI), as text. Select it
    explicitly: neither pseudo column is part of `select *` on Athena or Redshift. -#}
{% macro raw_file_path(relation='') %}
    {{- return(adapter.dispatch('raw_file_path', 'taglake')(relation)) -}}
{% endmacro %}

{#- DuckDB: the `filename` column the sources' read_csv/read_parquet add (filename=true in external_location). -#}
{% macro default__raw_file_path(relation) -%}
    {{ relation ~ '.' if relation }}filename
{%- endmacro %}

{#- Athena: the "$path" pseudo column, the object's S3 URI. -#}
{% macro athena__raw_file_path(relation) -%}
    {{ relation ~ '.' if relation }}"$path"
{%- endmacro %}

{#- Redshift Spectrum: the "$path" pseudo column of an external table, the object's S3 URI (on unless a session sets
    spectrum_enable_pseudo_columns to false; the project never does). -#}
{% macro redshift__raw_file_path(relation) -%}
    {{ relation ~ '.' if relation }}"$path"
{%- endmacro %}
