-- The score distribution of each model version per month, over ten fixed bins of [0, 1], beside the version's first
-- month (its baseline). Every bin is listed, empty ones with 0, so the shares of a month add up to 1. The counts come
-- from int_model_scores_binned_monthly (replaced per month as scores land), so a day's rebuild reads a few thousand
-- rows, not every score.
{%- set bins = var('score_bins') | int %}

with

counted as (
    select
        model_name,
        model_version,
        score_month,
        bin_index,
        score_count
    from {{ ref('int_model_scores_binned_monthly') }}
),

bins as (
    {%- for i in range(1, bins + 1) %}
    select {{ i }} as bin_index
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

months as (
    select
        model_name,
        model_version,
        score_month,
        cast(sum(score_count) as bigint) as month_score_count
    from counted
    group by model_name, model_version, score_month
),

baselines as (
    select
        model_name,
        model_version,
        min(score_month) as baseline_month
    from months
    group by model_name, model_version
),

shares as (
    select
        months.model_name,
        months.model_version,
        months.score_month,
        bins.bin_index,
        coalesce(counted.score_count, 0) as score_count,
        cast(coalesce(counted.score_count, 0) as {{ type_double() }}) / months.month_score_count as score_share
    from months
    cross join bins
    left join counted
        on
            months.model_name = counted.model_name
            and months.model_version = counted.model_version
            and months.score_month = counted.score_month
            and bins.bin_index = counted.bin_index
)

select
    shares.model_name,
    shares.model_version,
    shares.score_month,
    baselines.baseline_month,
    cast(shares.bin_index as integer) as bin_index,
    cast(shares.bin_index - 1 as {{ type_double() }}) / {{ bins }} as bin_lower,
    cast(shares.bin_index as {{ type_double() }}) / {{ bins }} as bin_upper,
    cast(shares.score_count as bigint) as score_count,
    shares.score_share,
    baseline.score_share as baseline_share
from shares
inner join baselines
    on
        shares.model_name = baselines.model_name
        and shares.model_version = baselines.model_version
inner join shares as baseline
    on
        shares.model_name = baseline.model_name
        and shares.model_version = baseline.model_version
        and shares.bin_index = baseline.bin_index
        and baselines.baseline_month = baseline.score_month
