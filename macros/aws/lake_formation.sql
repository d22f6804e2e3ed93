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


{#- The dbt-athena `lf_tags_config` for a relation with these columns: table tags `layer` (and what the model's own
    `lf_tags` config adds), and every column tagged `pii` = its kind, `none` when it derives from no personal data. -#}
{% macro pii_lf_tags_config(column_names, layer, table_tags={}) %}
    {%- set kinds = pii_column_kinds() -%}
    {%- set by_kind = {} -%}
    {%- for name in column_names -%}
        {%- set kind = kinds.get(name | lower, 'none') -%}
        {%- do by_kind.setdefault(kind, []).append(name | lower) -%}
    {%- endfor -%}
    {%- set tags = {'layer': layer} -%}
    {%- do tags.update(table_tags) -%}
    {{- return({'enabled': true, 'tags': tags, 'tags_columns': {'pii': by_kind}}) -}}
{% endmacro %}


{#- Post-hook on every model, seed and snapshot (dbt_project.yml): on Athena, apply pii_lf_tags_config to the relation just built;
    elsewhere nothing (Redshift: grants; DuckDB: a local file). The var `lake_formation_tags` turns it off for an
    account without Lake Formation. -#}
{% macro lake_formation_pii_tags() %}
    {{- return(adapter.dispatch('lake_formation_pii_tags', 'taglake')()) -}}
{% endmacro %}

{% macro default__lake_formation_pii_tags() -%}
    {{- return('') -}}
{%- endmacro %}

{% macro athena__lake_formation_pii_tags() -%}
    {%- if not execute or not var('lake_formation_tags', true) or model.config.materialized == 'ephemeral' -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set layer = {'seed': 'reference', 'snapshot': 'snapshots'}.get(model.resource_type, model.fqn[1]) -%}
    {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | list -%}
    {%- do adapter.add_lf_tags(this, pii_lf_tags_config(columns, layer, config.get('lf_tags', {}))) -%}
    {{- return('') -}}
{%- endmacro %}
