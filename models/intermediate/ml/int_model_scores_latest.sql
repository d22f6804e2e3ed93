-- Per customer and model: the latest score, from whichever version scored last.
-- Incremental: the latest among the scores landed from landing_window_start() on, compared with the score this table
-- holds for the same customer and model, merged on the pair. Every score landed before the window was compared
-- when it landed, so the row kept is the latest over all history, as a full build keeps it; a day without scores
-- (scores land on scoring days only) merges nothing. On a tie (the same scoring run and version, its row re-landed
-- in the window) the window's row wins, as staging holds it now.
-- In a full build the latest scoring time per customer and model is found first (a max of a timestamp: a small,
-- fixed-width state), and only the rows holding it are ranked by version: at the large scale 2.9 M rows instead of a
-- window over all 34.8 M staged scores (docs/performance.md). scored_at is never null (required in the source YAML: a
-- row without it is quarantined in base), so the equality join keeps every key. A daily run ranks its candidates
-- directly: the window's rows and the held rows they touch are about two per key, and finding the time first
-- there cost more than it saved (2.7 s against 4.5 s on a re-read day at the large scale).
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

{# In a full build read twice (its latest time, then its rows at that time), inlined, so that the 34.8 M staged rows
    are scanned twice rather than held. #}
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

{%- if not since %}

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
{%- endif %}

latest as (
    {{ deduplicated(
        'candidates' if since else 'at_latest', ['customer_token', 'model_name'],
        'scored_at desc, model_version desc, from_window desc'
    ) }}
)

select
    {{ columns | join(',\n    ') }}
from latest
