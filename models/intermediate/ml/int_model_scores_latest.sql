-- Per customer and model: the latest score, from whichever version scored last.
-- Incremental: the latest among the scores landed from landing_window_start() on, compared with the score this table
-- holds for the same customer and model, merged on the pair. Every score landed before the window was compared
-- when it landed, so the row kept is the latest over all history, as a full build keeps it; a day without scores
-- (scores land on scoring days only) merges nothing. On a tie (the same scoring run and version, its row re-landed
-- in the window) the window's row wins, as staging holds it now.
-- The latest scoring time per customer and model is found first (a max of a timestamp: a small, fixed-width state), and
-- only the rows holding it are ranked by version and window: at the large scale 2.9 M rows instead of a window over
-- all 34.8 M staged scores (docs/performance.md). scored_at is never null (required in the source YAML: a row without
-- it is quarantined in base), so the equality join keeps every key.
{{ config(**keyed_incremental(['customer_token', 'model_name'])) }}
{%- set since = landing_window_start() %}
{%- set columns = ['customer_token', 'model_name', 'model_version', 'scored_at', 'score', 'landing_date'] %}

with

in_window as (
    select
        {{ columns | join(',\n        ') }}
    from {{ ref('stg_ml__model_scores') }}
    {%- if since %}
    where {{ landed_since(since) }}
    {%- endif %}
),

{# Read twice (its latest time, then its rows at that time): in a full build inlined, so that the 34.8 M staged rows
    are scanned twice rather than held; in a daily run held (a window's few rows and the held rows they touch). #}
candidates as {{ not_materialized() if not since }} (
    select
        in_window.*,
        1 as from_window
    from in_window
    {%- if since %}
    union all
    select
        {{ columns | join(',\n        ') }},
        0 as from_window
    from {{ this }} as held
    where
        exists (
            select 1
            from in_window
            where
                in_window.customer_token = held.customer_token
                and in_window.model_name = held.model_name
        )
    {%- endif %}
),

latest_scored as (
    select
        customer_token,
        model_name,
        max(scored_at) as scored_at
    from candidates
    group by customer_token, model_name
),

at_latest as (
    select candidates.*
    from candidates
    inner join latest_scored
        on
            candidates.customer_token = latest_scored.customer_token
            and candidates.model_name = latest_scored.model_name
            and candidates.scored_at = latest_scored.scored_at
),

latest as (
    {{ deduplicated(
        'at_latest', ['customer_token', 'model_name'], 'scored_at desc, model_version desc, from_window desc'
    ) }}
)

select
    {{ columns | join(',\n    ') }}
from latest
