-- Per customer and model: the latest score, from whichever version scored last.
-- Incremental: the latest among the scores landed from landing_window_start() on, compared with the score this table
-- holds for the same customer and model, merged on the pair. Every score landed before the window was compared
-- when it landed, so the row kept is the latest over all history, as a full build keeps it; a day without scores
-- (scores land on scoring days only) merges nothing. On a tie (the same scoring run and version, its row re-landed
-- in the window) the window's row wins, as staging holds it now.
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

candidates as (
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

latest as (
    {{ deduplicated(
        'candidates', ['customer_token', 'model_name'], 'scored_at desc, model_version desc, from_window desc'
    ) }}
)

select
    {{ columns | join(',\n    ') }}
from latest
