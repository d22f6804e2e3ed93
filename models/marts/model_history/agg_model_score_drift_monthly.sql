-- Drift of each model version per month: the population stability index (PSI) of the month's score distribution
-- against the version's first month, over the fixed bins of agg_model_score_distribution_monthly. An empty bin's
-- share is taken as var('psi_epsilon') so the logarithm stays finite. PSI and the mean are rounded to 9 decimals:
-- a parallel floating-point sum depends on the order it adds in, and a re-run must give the same table. The counts
-- and the mean of each month come from int_model_scores_aggregated_monthly (replaced per month as scores land).
{%- set epsilon = var('psi_epsilon') %}

with

distribution as (
    select * from {{ ref('agg_model_score_distribution_monthly') }}
),

summary as (
    select * from {{ ref('int_model_scores_aggregated_monthly') }}
),

floored as (
    select
        model_name,
        model_version,
        score_month,
        baseline_month,
        greatest(score_share, {{ epsilon }}) as actual,
        greatest(baseline_share, {{ epsilon }}) as expected
    from distribution
),

psi as (
    select
        model_name,
        model_version,
        score_month,
        baseline_month,
        sum((actual - expected) * ln(actual / expected)) as psi
    from floored
    group by model_name, model_version, score_month, baseline_month
)

select
    psi.model_name,
    psi.model_version,
    psi.score_month,
    psi.baseline_month,
    cast(summary.score_count as bigint) as score_count,
    cast(summary.customer_count as bigint) as customer_count,
    cast(round(summary.mean_score, 9) as {{ type_double() }}) as mean_score,
    summary.first_scored_at,
    cast(round(psi.psi, 9) as {{ type_double() }}) as psi,
    psi.score_month = psi.baseline_month as is_baseline,
    case
        when psi.psi < 0.1 then 'stable'
        when psi.psi < 0.25 then 'moderate'
        else 'significant'
    end as drift_level
from psi
inner join summary
    on
        psi.model_name = summary.model_name
        and psi.model_version = summary.model_version
        and psi.score_month = summary.score_month
