-- Do the rule tags agree with the churn model? For each tag, its holders, their average latest churn_propensity
-- score, and the lift against the average over all scored customers (above 1: the model sees the tag's holders
-- as likelier to churn).
with

tags as (
    select * from {{ ref('fct_customer_tags') }}
),

features as (
    select * from {{ ref('int_customer_features_joined') }}
),

overall as (
    select avg(churn_propensity_score) as average_churn_score from features
)

select
    tags.tag_code,
    count(*) as holders,
    avg(features.churn_propensity_score) as average_churn_score,
    avg(features.churn_propensity_score) / max(overall.average_churn_score) as churn_score_lift
from tags
inner join features
    on tags.customer_token = features.customer_token
cross join overall
group by tags.tag_code
order by churn_score_lift desc
