{#- Who reads what, generated from the one declaration: the var `access` in dbt_project.yml (roles, datasets, the
    `pii` kinds each role reads) and each relation's dataset (`meta.dataset`, set per folder in dbt_project.yml).
    A role reads a relation only when the relation is in a consumption layer and in one of the role's datasets,
    and of it only the columns whose `pii` kind the role lists; nothing else. Redshift: GRANT statements (a
    post-hook per relation, `dbt run-operation apply_redshift_access` for the whole warehouse). Athena: the same
    decision is Lake Formation's, from the LF-tags (macros/aws/lake_formation.sql) and the tag policies
    `taglake lake-formation apply` grants (taglake/aws/lake_formation.py). docs/deployment.md § Roles and
    permissions. -#}

{#- The declaration (var `access`), refused when it would let a person read a restricted layer or clear data: the
    same rules as taglake.aws.access.parse_access. -#}
{% macro access_policy() %}
    {%- set policy = var('access') -%}
    {%- for layer in policy.consumption_layers if layer in ['raw', 'keys', 'staging', 'intermediate', 'vault'] -%}
        {{ exceptions.raise_compiler_error('vars access in dbt_project.yml: ' ~ layer
            ~ ' may not be a consumption layer') }}
    {%- endfor -%}
    {%- for role, spec in policy.roles.items() if spec.get('datasets') and 'clear' in spec.get('pii', []) -%}
        {{ exceptions.raise_compiler_error('vars access in dbt_project.yml: role ' ~ role ~ ' may not read pii '
            ~ 'kind clear; only the system account sees clear data') }}
    {%- endfor -%}
    {{- return(policy) -}}
{% endmacro %}


{#- The layer of a model, seed or snapshot: its folder under models/, `reference` for seeds, `snapshots`. -#}
{% macro access_layer(node) %}
    {%- if node.resource_type == 'seed' -%}
        {{- return('reference') -}}
    {%- elif node.resource_type == 'snapshot' -%}
        {{- return('snapshots') -}}
    {%- endif -%}
    {{- return(node.fqn[1]) -}}
{% endmacro %}


{#- The dataset a relation belongs to (`meta.dataset`), or none; a dataset the declaration does not know fails. -#}
{% macro access_dataset(node) %}
    {%- set dataset = (node.config.meta or {}).get('dataset') -%}
    {%- if dataset and dataset not in var('access').datasets -%}
        {{ exceptions.raise_compiler_error(node.resource_type ~ ' ' ~ node.name ~ ': meta.dataset ' ~ dataset
            ~ ' is not a dataset of the var access in dbt_project.yml; declare it there or use one of '
            ~ (var('access').datasets | list | join(', '))) }}
    {%- endif -%}
    {{- return(dataset or none) -}}
{% endmacro %}


{#- The table-level LF-tags of a relation: `layer`, and `dataset` when it belongs to one. -#}
{% macro access_table_tags(node) %}
    {%- set tags = {'layer': access_layer(node)} -%}
    {%- set dataset = access_dataset(node) -%}
    {%- if dataset -%}
        {%- do tags.update({'dataset': dataset}) -%}
    {%- endif -%}
    {{- return(tags) -}}
{% endmacro %}


{#- Column name (lower case) → its `pii` kind, exactly as the Lake Formation column tags say (pii_lf_tags_config). -#}
{% macro access_column_kinds(node, column_names) %}
    {%- set config = pii_lf_tags_config(column_names, access_layer(node)) -%}
    {%- set kinds = {} -%}
    {%- for kind, columns in config.tags_columns.pii.items() -%}
        {%- for column in columns -%}
            {%- do kinds.update({column | lower: kind}) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{- return(kinds) -}}
{% endmacro %}


{#- What each person-facing role may read of a relation with these columns: role → {'columns': [...], 'all': bool}
    for the roles that read any of it. No columns known: nobody (fail closed). -#}
{% macro access_readers(node, column_names) %}
    {%- set policy = access_policy() -%}
    {%- set readers = {} -%}
    {%- set dataset = access_dataset(node) -%}
    {%- if not dataset or access_layer(node) not in policy.consumption_layers or not column_names -%}
        {{- return(readers) -}}
    {%- endif -%}
    {%- set kinds = access_column_kinds(node, column_names) -%}
    {%- for role, spec in policy.roles.items() if dataset in spec.get('datasets', []) -%}
        {%- set readable = [] -%}
        {%- for column in column_names if kinds.get(column | lower) in spec.pii -%}
            {%- do readable.append(column | lower) -%}
        {%- endfor -%}
        {%- if readable -%}
            {%- do readers.update({role: {'columns': readable, 'all': readable | length == column_names | length}}) -%}
        {%- endif -%}
    {%- endfor -%}
    {{- return(readers) -}}
{% endmacro %}


{#- A plain lowercase identifier, or a compile error naming where it came from (never echoing it). -#}
{% macro access_identifier(name, what) %}
    {%- if not modules.re.match('^[a-z_][a-z0-9_]{0,126}$', name or '') -%}
        {{ exceptions.raise_compiler_error(what ~ ' is not a plain lowercase identifier ([a-z_][a-z0-9_]*); '
            ~ 'fix it in dbt_project.yml (vars access) or the environment') }}
    {%- endif -%}
    {{- return(name) -}}
{% endmacro %}


{#- Role → its Redshift group, for the roles that read anything (the service identities own what they build and
    have no group). TAGLAKE_REDSHIFT_<ROLE>_GROUP overrides the declared name. -#}
{% macro redshift_access_groups() %}
    {%- set groups = {} -%}
    {%- for role, spec in var('access').roles.items() if spec.get('datasets') -%}
        {%- set env = 'TAGLAKE_REDSHIFT_' ~ (role | upper) ~ '_GROUP' -%}
        {%- set name = env_var(env, spec.get('redshift_group') or 'taglake_' ~ role) -%}
        {%- do groups.update({role: access_identifier(name, env ~ ' (the Redshift group of role ' ~ role ~ ')')}) -%}
    {%- endfor -%}
    {{- return(groups) -}}
{% endmacro %}


{#- The statements that make a relation's Redshift grants what the declaration says: revoke from every role's
    group, then grant SELECT (of the whole table when every column is readable, else of the readable columns). -#}
{% macro redshift_relation_grants(node, schema, identifier, column_names) %}
    {%- set relation = access_identifier(schema, 'schema of ' ~ node.name) ~ '.'
        ~ access_identifier(identifier, 'relation name of ' ~ node.name) -%}
    {%- set groups = redshift_access_groups() -%}
    {%- set statements = [] -%}
    {%- for role in groups -%}
        {%- do statements.append('revoke all on table ' ~ relation ~ ' from group ' ~ groups[role]) -%}
    {%- endfor -%}
    {%- set readers = access_readers(node, column_names) -%}
    {%- for role, read in readers.items() -%}
        {%- if read.all -%}
            {%- do statements.append('grant select on table ' ~ relation ~ ' to group ' ~ groups[role]) -%}
        {%- else -%}
            {%- set columns = [] -%}
            {%- for column in read.columns -%}
                {%- do columns.append(access_identifier(column, 'a column of ' ~ node.name)) -%}
            {%- endfor -%}
            {%- do statements.append('grant select (' ~ columns | join(', ') ~ ') on table ' ~ relation
                ~ ' to group ' ~ groups[role]) -%}
        {%- endif -%}
    {%- endfor -%}
    {{- return(statements) -}}
{% endmacro %}


{#- Every Redshift access statement of the project, in order: the public loses every right on every schema the
    project writes or reads (raw external schemas and restricted_keys included); each group gets USAGE on the
    schemas it reads something in; then each relation's grants. Columns: as declared in YAML (marts, seeds and
    snapshots declare all of theirs), or, with `introspect`, as the warehouse has them. With `existing_schemas`
    (introspection), statements on a schema not in it are left out: dbt creates it at the first build. -#}
{% macro redshift_access_statements(introspect=false, existing_schemas=none) %}
    {%- set nodes = [] -%}
    {%- for node in graph.nodes.values()
        if node.resource_type in ['model', 'seed', 'snapshot'] and node.config.enabled
        and node.config.materialized != 'ephemeral' -%}
        {%- do nodes.append(node) -%}
    {%- endfor -%}
    {%- set schemas = [] -%}
    {%- for node in nodes if node.schema | lower not in schemas -%}
        {%- do schemas.append(node.schema | lower) -%}
    {%- endfor -%}
    {%- for node in graph.sources.values() if node.schema | lower not in schemas -%}
        {%- do schemas.append(node.schema | lower) -%}
    {%- endfor -%}
    {%- set vault = (target.schema ~ '_vault') | lower -%}
    {%- if vault not in schemas -%}
        {%- do schemas.append(vault) -%}
    {%- endif -%}
    {%- set groups = redshift_access_groups() -%}
    {%- set statements = [] -%}
    {%- for schema in schemas | sort if existing_schemas is none or schema in existing_schemas -%}
        {%- do statements.append('revoke all on schema ' ~ access_identifier(schema, 'a schema') ~ ' from public') -%}
    {%- endfor -%}
    {%- set usage = [] -%}
    {%- set relation_statements = [] -%}
    {%- for node in nodes | sort(attribute='unique_id') -%}
        {%- set identifier = node.alias or node.name -%}
        {%- if introspect -%}
            {%- set relation = adapter.get_relation(database=node.database, schema=node.schema, identifier=identifier) -%}
            {%- set columns = (adapter.get_columns_in_relation(relation) | map(attribute='name') | list) if relation else [] -%}
        {%- else -%}
            {%- set columns = node.columns.keys() | list -%}
        {%- endif -%}
        {%- do relation_statements.extend(redshift_relation_grants(node, node.schema | lower, identifier | lower, columns)) -%}
        {%- for role in access_readers(node, columns) -%}
            {%- set pair = (node.schema | lower, groups[role]) -%}
            {%- if pair not in usage -%}
                {%- do usage.append(pair) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- for schema, group in usage | sort if existing_schemas is none or schema in existing_schemas -%}
        {%- do statements.append('grant usage on schema ' ~ schema ~ ' to group ' ~ group) -%}
    {%- endfor -%}
    {%- do statements.extend(relation_statements) -%}
    {{- return(statements) -}}
{% endmacro %}


{#- Post-hook on every model, seed and snapshot (dbt_project.yml): on Redshift, make the grants of the relation
    just built what the declaration says (a rebuilt table has lost its grants; an incremental one may hold stale
    ones), with its columns as the warehouse has them. Elsewhere nothing (Athena: Lake Formation tags). -#}
{% macro access_grants() %}
    {{- return(adapter.dispatch('access_grants', 'taglake')()) -}}
{% endmacro %}

{% macro default__access_grants() -%}
    {{- return('') -}}
{%- endmacro %}

{% macro redshift__access_grants() -%}
    {%- if not execute or model.config.materialized == 'ephemeral' -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | list -%}
    {%- set groups = redshift_access_groups() -%}
    {%- for role in access_readers(model, columns) -%}
        {%- do run_query('grant usage on schema ' ~ access_identifier(this.schema | lower, 'schema of ' ~ model.name)
            ~ ' to group ' ~ groups[role]) -%}
    {%- endfor -%}
    {%- for statement in redshift_relation_grants(model, this.schema | lower, this.identifier | lower, columns) -%}
        {%- do run_query(statement) -%}
    {%- endfor -%}
    {{- return('') -}}
{%- endmacro %}


{#- `dbt run-operation apply_redshift_access [--args '{dry_run: true}']`: create the groups that are missing, then
    run every statement of redshift_access_statements with the warehouse's schemas and columns. Run it before the
    first build (the post-hooks need the groups), after it (the schemas it created), and after a change to the
    declaration. -#}
{% macro apply_redshift_access(dry_run=false) %}
    {%- if target.type != 'redshift' -%}
        {{ exceptions.raise_compiler_error('apply_redshift_access is for the Redshift targets, not ' ~ target.type) }}
    {%- endif -%}
    {%- set existing = run_query('select groname from pg_group').columns[0].values() | map('lower') | list -%}
    {%- set statements = [] -%}
    {%- for group in redshift_access_groups().values() | unique if group not in existing -%}
        {%- do statements.append('create group ' ~ group) -%}
    {%- endfor -%}
    {%- set schemas = run_query('select nspname from pg_namespace').columns[0].values() | map('lower') | list -%}
    {%- do statements.extend(redshift_access_statements(introspect=true, existing_schemas=schemas)) -%}
    {%- for statement in statements -%}
        {%- if dry_run -%}
            {{ log(statement ~ ';', info=true) }}
        {%- else -%}
            {%- do run_query(statement) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ log(statements | length ~ ' access statements ' ~ ('printed' if dry_run else 'run'), info=true) }}
{% endmacro %}
