{#- Redshift reads the raw zone through Spectrum: one external schema per raw Glue database (the `schema` of every
    raw source in the source YAML), created by `dbt run-operation create_spectrum_schemas`. CREATE EXTERNAL SCHEMA
    cannot run inside a transaction: it is sent as a statement with auto_begin=False (no BEGIN) on a connection
    with autocommit on (profiles.yml `autocommit: true`, dbt-redshift's default), and run-operation opens no
    transaction of its own, so it runs on its own. -#}

{#- The Glue databases of the raw sources (those with `meta.raw_prefix`), sorted. -#}
{% macro raw_glue_databases() %}
    {%- set found = [] -%}
    {%- for node in graph.sources.values() if node.meta.get('raw_prefix') and node.schema not in found -%}
        {%- do found.append(node.schema) -%}
    {%- endfor -%}
    {{- return(found | sort) -}}
{% endmacro %}


{#- The statement that makes `schema` an external schema over the Glue database of the same name. -#}
{% macro spectrum_schema_sql(schema, iam_role) -%}
    create external schema if not exists {{ schema }}
    from data catalog
    database '{{ schema }}'
    iam_role '{{ iam_role }}'
{%- endmacro %}


{#- `dbt run-operation create_spectrum_schemas`: create every raw external schema. The IAM role Redshift assumes
    to read Glue and S3 comes from TAGLAKE_REDSHIFT_SPECTRUM_IAM_ROLE. To see the statements without a cluster:
    `dbt compile --inline "{% for s in raw_glue_databases() %}{{ spectrum_schema_sql(s, 'arn:…') }};{% endfor %}"`. -#}
{% macro create_spectrum_schemas() %}
    {%- if target.type != 'redshift' -%}
        {{ exceptions.raise_compiler_error('create_spectrum_schemas is for the Redshift targets, not ' ~ target.type) }}
    {%- endif -%}
    {%- set role = env_var('TAGLAKE_REDSHIFT_SPECTRUM_IAM_ROLE') -%}
    {%- for schema in raw_glue_databases() -%}
        {%- call statement('create_spectrum_schema', fetch_result=false, auto_begin=false) -%}
            {{ spectrum_schema_sql(schema, role) }}
        {%- endcall -%}
        {{ log('external schema ' ~ schema ~ ' is there', info=true) }}
    {%- endfor -%}
{% endmacro %}
