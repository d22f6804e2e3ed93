-- Per customer and model: the latest score, from whichever version scored last.
-- Incremental: the latest among the scores landed from landing_window_start() on, kept where the row this table holds
-- for the same customer and model is not later, merged on the pair. Every score landed before the window was
-- compared when it landed, so the row kept is the latest over all history, as a full build keeps it; a day without
-- scores (scores land on scoring days only) merges nothing, and a pair whose held row is later is left out of the
-- merge (its held row stays as it is). On a tie (the same scoring run and version, its row re-landed in the window)
-- the window's row wins, as staging holds it now.
-- In a full build the latest scoring time per customer and model is found first (a max of a timestamp: a small,
-- fixed-width state), and only the rows holding it are ranked by version: at the large scale 2.9 M rows instead of a
-- window over all 34.8 M staged scores (docs/performance.md). scored_at is never null (required in the source YAML: a
-- row without it is quarantined in base), so the equality join keeps every key. A daily run ranks the window's rows
-- by pair (one per pair but where two versions scored it: few_repeated) and drops those the held row beats, an anti
-- join on the pair: on a scoring day at the large scale, instead of ranking the window's 2.9 M rows together with
-- the 2.9 M held rows they touch (docs/performance.md). A held row can beat a window row only if it was scored at or
-- after the window's earliest score: when the table holds none (a scoring day: every held score is a month older),
-- the anti join is left out (held_rows_may_match; 1.4 s of 2.0 s alone at the large scale).
{{ config(**keyed_incremental(['customer_token', 'model_name'])) }}
{%- set since = landing_window_start() %}
{%- set columns = ['customer_token', 'model_name', 'model_version', 'scored_at', 'score', 'landing_date'] %}

with

{# In a full build read twice (its latest time, then its rows at that time), inlined, so that the 34.8 M staged rows
    are scanned twice rather than held. #}
in_window as {{ not_materialized() if not since }} (
    select
        {{ columns | join(',\n        ') }}
    from {{ ref('stg_ml__model_scores') }}
    {%- if since %}
    where {{ landed_since(since) }}
    {%- endif %}
),

{%- if since %}

window_latest as (
    {{ deduplicated(
        'in_window', ['customer_token', 'model_name'], 'scored_at desc, model_version desc', few_repeated=true
    ) }}
),

latest as (
    select window_latest.*
    from window_latest
    {%- if held_rows_may_match('scored_at', ref('stg_ml__model_scores'), since, up_to_most=false) %}
    where
        not exists (
            select 1
            from {{ this }} as held
            where
                held.customer_token = window_latest.customer_token
                and held.model_name = window_latest.model_name
                and (
                    held.scored_at > window_latest.scored_at
                    or (held.scored_at = window_latest.scored_at and held.model_version > window_latest.model_version)
                )
        )
    {%- endif %}
)
{%- else %}

latest_scored as (
    select
        customer_token,
        model_name,
        max(scored_at) as scored_at
    from in_window
    group by customer_token, model_name
),

at_latest as (
    select in_window.*
    from in_window
    inner join latest_scored
        on
            in_window.customer_token = latest_scored.customer_token
            and in_window.model_name = latest_scored.model_name
            and in_window.scored_at = latest_scored.scored_at
),

latest as (
    {{ deduplicated('at_latest', ['customer_token', 'model_name'], 'scored_at desc, model_version desc') }}
)
{%- endif %}

select
    {{ columns | join(',\n    ') }}
from latest
