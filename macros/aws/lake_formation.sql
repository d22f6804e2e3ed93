{#- Lake Formation LF-tags on Athena, derived from the one classification (`meta.pii` in the source YAML) and the
    treatments (var pii_treatments): every column a model holds is tagged `pii` = its kind, so that Lake Formation
    tag policies decide who reads what (docs/verification.md). Kinds: `clear` (a classified source column as
    landed: the vault only), `tokenized`, `masked`, `generalized` (what a treatment made of one), what a model's
    YAML declares for a column (`meta.pii_kind`: `redacted`, the quarantine record), `none`. -#}

{#- Output column name → kind, for every column any treatment can produce and every classified source column. -#}
{% macro pii_column_kinds() %}
    {%- set kinds = {} -%}
    {%- if not execute -%}
        {{- return(kinds) -}}
    {%- endif -%}
    {%- set classified = [] -%}
    {%- for node in graph.sources.values() -%}
        {%- for column in node.columns.values() if column.meta.get('pii') -%}
            {%- do classified.append({'name': column.name, 'pii': column.meta.pii,
                                      'token_name': column.meta.get('token_name')}) -%}
        {%- endfor -%}
        {%- for key in node.meta.get('json_keys', []) if key.get('pii') -%}
            {%- do classified.append({'name': key.name, 'pii': key.pii, 'token_name': key.get('token_name')}) -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- for column in classified -%}
        {%- for treatment in var('pii_treatments').get(column.pii, []) -%}
            {%- if treatment == 'tokenize' -%}
                {%- do kinds.update({(column.token_name or column.name ~ '_token') | lower: 'tokenized'}) -%}
            {%- elif treatment == 'mask' -%}
                {%- do kinds.update({(column.name ~ '_masked') | lower: 'masked'}) -%}
            {%- elif treatment == 'generalize' and column.pii == 'address' -%}
                {%- do kinds.update({'city': 'generalized', 'district': 'generalized'}) -%}
            {%- elif treatment == 'generalize' and column.pii == 'birth_date' -%}
                {%- do kinds.update({'birth_year': 'generalized', 'age_band': 'generalized'}) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {#- A model or snapshot column whose YAML says what it holds (`meta.pii_kind`, e.g. the quarantine's `redacted`
        record). -#}
    {%- for node in graph.nodes.values() if node.resource_type in ('model', 'snapshot') -%}
        {%- for column in node.columns.values() if column.meta.get('pii_kind') -%}
            {%- do kinds.update({column.name | lower: column.meta.pii_kind}) -%}
        {%- endfor -%}
    {%- endfor -%}
    {#- A classified column under its own name is clear text (the guard keeps it out of every model but the vault). -#}
    {%- for column in classified -%}
        {%- do kinds.update({column.name | lower: 'clear'}) -%}
    {%- endfor -%}
    {{- return(kinds) -}}
{% endmacro %}


{#- The dbt-athena `lf_tags_config` for a relation with these columns: table tags `layer` (and `dataset` and what
    the model's own `lf_tags` config adds, passed as table_tags), and every column tagged `pii` = its kind, `none`
    when it derives from no personal data. `layer` is always the one given: no table tag can change it. -#}
{% macro pii_lf_tags_config(column_names, layer, table_tags={}) %}
    {%- set kinds = pii_column_kinds() -%}
    {%- set by_kind = {} -%}
    {%- for name in column_names -%}
        {%- set kind = kinds.get(name | lower, 'none') -%}
        {%- do by_kind.setdefault(kind, []).append(name | lower) -%}
    {%- endfor -%}
    {%- set tags = {} -%}
    {%- do tags.update(table_tags) -%}
    {%- do tags.update({'layer': layer}) -%}
    {{- return({'enabled': true, 'tags': tags, 'tags_columns': {'pii': by_kind}}) -}}
{% endmacro %}


{#- The table tags a relation gets: `layer` and `dataset` from the access declaration (macros/aws/access.sql), and
    what the model's own `lf_tags` config adds, which may not name `layer`, `dataset` or `pii`: who reads what is
    decided in one place (vars `access`, meta.dataset), not by a model's config. -#}
{% macro access_lf_table_tags(node, extra_tags={}) %}
    {%- for key in extra_tags if key in ['layer', 'dataset', 'pii'] -%}
        {{ exceptions.raise_compiler_error(node.resource_type ~ ' ' ~ node.name ~ ': lf_tags may not set ' ~ key
            ~ '; the access declaration does (vars access and meta.dataset in dbt_project.yml)') }}
    {%- endfor -%}
    {%- set tags = {} -%}
    {%- do tags.update(extra_tags) -%}
    {%- do tags.update(access_table_tags(node)) -%}
    {{- return(tags) -}}
{% endmacro %}


{#- Every relation the project builds on this target (models, seeds, snapshots; not ephemeral) → the lf_tags_config
    its post-hook applies, with the columns its YAML declares: what Lake Formation will hold, as data, offline
    (tests_py/aws/test_access_lake_formation.py). -#}
{% macro lake_formation_plan() %}
    {%- set plan = {} -%}
    {%- for node in graph.nodes.values()
        if node.resource_type in ['model', 'seed', 'snapshot'] and node.config.enabled
        and node.config.materialized != 'ephemeral' -%}
        {%- set tags = access_lf_table_tags(node, node.config.get('lf_tags') or {}) -%}
        {%- do plan.update({node.unique_id: {
            'database': node.schema | lower, 'table': (node.alias or node.name) | lower,
            'config': pii_lf_tags_config(node.columns.keys() | list, access_layer(node), tags)}}) -%}
    {%- endfor -%}
    {{- return(plan) -}}
{% endmacro %}


{#- Post-hook on every model, seed and snapshot (dbt_project.yml): on Athena, apply pii_lf_tags_config to the
    relation just built; elsewhere nothing (Redshift: grants, macros/aws/access.sql; DuckDB: a local file). No
    switch turns it off: an account without Lake Formation is not a supported production (docs/deployment.md). -#}
{% macro lake_formation_pii_tags() %}
    {{- return(adapter.dispatch('lake_formation_pii_tags', 'taglake')()) -}}
{% endmacro %}

{% macro default__lake_formation_pii_tags() -%}
    {{- return('') -}}
{%- endmacro %}

{% macro athena__lake_formation_pii_tags() -%}
    {%- if not execute or model.config.materialized == 'ephemeral' -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | list -%}
    {%- set tags = access_lf_table_tags(model, config.get('lf_tags') or {}) -%}
    {%- do adapter.add_lf_tags(this, pii_lf_tags_config(columns, access_layer(model), tags)) -%}
    {{- return('') -}}
{%- endmacro %}
