-- Model-propensity tags (family `model`): the latest score of each propensity model in ml.model_scores at or
-- above the set score. The tag's score is the model's. Rules in docs/dbt/tags.md; the threshold is the
-- `tag_propensity_min_score` var.
with

features as (
    select * from {{ ref('int_customer_features_joined') }}
),

{% set propensity_tags = [
    ['MDL_CHURN_HIGH', 'churn_propensity_score'],
    ['MDL_WEALTH_PROPENSITY', 'wealth_propensity_score'],
    ['MDL_CARD_UPSELL', 'card_upsell_propensity_score'],
] %}

{% for tag_code, score_column in propensity_tags %}
{{ tag_code | lower }} as (
    select
        {{ tag_assignment(tag_code, [[score_column, score_column, 'amount']], value="'high'", score=score_column) }}
    from features
    where {{ score_column }} >= {{ var('tag_propensity_min_score') }}
),
{% endfor %}

assigned as (
    {% for tag_code, _ in propensity_tags %}
    select * from {{ tag_code | lower }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
)

select * from assigned
