{{ config(severity='warn', meta={'quality_dimension': 'completeness'}) }}
-- Warns (does not fail the build) with one row per active catalog tag no customer holds on the as-of date. A tag
-- with no holders is not wrong — a short lake, a quiet day — but a rule or a feed may have broken, so someone
-- should look. Correctness checks (keys, contracts, reconciliation, catalog agreement) are errors; population
-- signals like this one are warnings.
with

catalog as (
    select * from {{ ref('tag_catalog') }}
    where status = 'active'
),

held as (
    select distinct tag_code from {{ ref('fct_customer_tags') }}
)

select catalog.tag_code
from catalog
left join held
    on catalog.tag_code = held.tag_code
where held.tag_code is null
