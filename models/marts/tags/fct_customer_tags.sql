-- Every tag every customer holds as of the lake's as-of date: one row per customer token and tag. The rules are
-- the family models in models/intermediate/tags; a tag's meaning is its row in the tag catalog.
with

{% set families = [
    'int_value_tags_assigned',
    'int_lifecycle_tags_assigned',
    'int_card_tags_assigned',
    'int_digital_tags_assigned',
    'int_risk_tags_assigned',
    'int_propensity_tags_assigned',
] %}

assigned as (
    {% for family in families %}
    select * from {{ ref(family) }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

catalog as (
    select * from {{ ref('tag_catalog') }}
)

select
    assigned.customer_token,
    assigned.tag_code,
    catalog.tag_family,
    assigned.tag_value,
    assigned.tag_score,
    assigned.evidence,
    assigned.as_of_date
from assigned
left join catalog
    on assigned.tag_code = catalog.tag_code
