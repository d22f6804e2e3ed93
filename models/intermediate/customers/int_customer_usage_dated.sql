-- Per customer token seen in the card or app feeds: the first and last card transaction, the last app event, and
-- the newest landing date of those rows (landed_through). Every token a staged transaction or event holds, whether
-- or not the CRM holds the customer yet (card use may land before the customer's record): int_customer_lifecycle_dated
-- reads a customer's dates here, never the feeds themselves.
-- Incremental (merge on the token, docs/daily-runs.md): a run recomputes the tokens a transaction or an event landed
-- from landing_window_start('landed_through') on touches, from the row the table holds for them and the window's
-- rows. Staged transactions and events are never withdrawn, so the earliest and latest of the two are those of all
-- of the token's rows, as a full build finds them; a token the table does not hold yet has no row before the window.
-- The lifecycle used to read every staged row of a touched customer it did not hold (a new CRM record), a scan of
-- every token of both feeds on most days (docs/performance.md).
{{ config(**keyed_incremental(['customer_token'])) }}
{%- set since = landing_window_start('landed_through') %}
{%- set in_window = ('where ' ~ landed_since(since)) if since else '' %}

with

-- each feed's rows (in a daily run, those landed in the window) in the columns the dates take
landed as {{ not_materialized() if not since }} (
    select
        customer_token,
        transaction_date as first_transaction_date,
        transaction_date as last_transaction_date,
        cast(null as date) as last_app_event_date,
        landing_date as landed_through
    from {{ ref('stg_cards__transactions') }}
    {{ in_window }}
    union all
    select
        customer_token,
        cast(null as date) as first_transaction_date,
        cast(null as date) as last_transaction_date,
        cast(event_at as date) as last_app_event_date,
        landing_date as landed_through
    from {{ ref('stg_digital__app_events') }}
    {{ in_window }}
),

-- in a daily run, with the rows the table holds for the tokens the window touches
dated as {{ not_materialized() }} (
    select * from landed
    {%- if since %}
    union all
    select
        held.customer_token,
        held.first_transaction_date,
        held.last_transaction_date,
        held.last_app_event_date,
        held.landed_through
    from {{ this }} as held
    where held.customer_token in (select landed.customer_token from landed)
    {%- endif %}
)

select
    customer_token,
    min(first_transaction_date) as first_transaction_date,
    max(last_transaction_date) as last_transaction_date,
    max(last_app_event_date) as last_app_event_date,
    max(landed_through) as landed_through
from dated
group by customer_token
