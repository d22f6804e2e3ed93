{{ config(meta={'quality_dimension': 'consistency'}) }}
-- The tag catalog and the tag rules agree both ways. Fails with one row per tag that a family model declares in
-- `meta.produces_tags` but the catalog lacks, that the catalog marks active but no model produces, that two
-- models both claim, that the catalog marks planned yet a model produces, or that a model produces under another
-- family than the catalog's. The data side (every produced row's tag_code is in the catalog) is a relationships
-- test on fct_customer_tags.
{%- set produced = [] -%}
{%- if execute -%}
{%- for node in graph.nodes.values() if node.resource_type == 'model' and node.config.meta.get('produces_tags') -%}
{%- for tag_code in node.config.meta['produces_tags'] -%}
{%- do produced.append({'tag_code': tag_code, 'family': node.config.meta['tag_family'], 'model': node.name}) -%}
{%- endfor -%}
{%- endfor -%}
{%- endif %}

with

catalog as (
    select * from {{ ref('tag_catalog') }}
),

produced as (
    {%- for item in produced %}
    select
        '{{ item.tag_code }}' as tag_code,
        '{{ item.family }}' as produced_family,
        '{{ item.model }}' as producing_model
    union all
    {%- endfor %}
    select
        cast(null as varchar) as tag_code,
        cast(null as varchar) as produced_family,
        cast(null as varchar) as producing_model
    where 1 = 0
),

producers as (
    select
        tag_code,
        min(produced_family) as produced_family,
        count(*) as producer_count
    from produced
    group by tag_code
),

compared as (
    select
        catalog.status,
        catalog.tag_family,
        producers.produced_family,
        coalesce(catalog.tag_code, producers.tag_code) as tag_code,
        coalesce(producers.producer_count, 0) as producer_count
    from catalog
    full outer join producers
        on catalog.tag_code = producers.tag_code
)

select * from compared
where
    status is null
    or (status = 'active' and producer_count <> 1)
    or (status = 'planned' and producer_count <> 0)
    or (producer_count > 0 and produced_family <> tag_family)
