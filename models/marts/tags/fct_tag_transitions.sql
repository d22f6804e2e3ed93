-- Who entered or left which tag, and when: one row per customer, tag and as-of date on which the customer's
-- holding of the tag changed, from the tag history (snap_customer_tags). The first version of a customer counts
-- as entering every tag it holds (`is_first_observation`).
-- Incremental per customer (docs/daily-runs.md): a run recomputes whole, from every version of their history, the
-- customers whose history gained a version since the table was built, and replaces their rows
-- (group_replace_incremental on customer_token); about 2% of customers a day at the large scale. With D the newest
-- transition date the table holds (tag_history_recorded_since): a version dated after D; a version closed on or
-- after D (a version dated D that a re-run on an unchanged as-of date recorded closes its predecessor on D); a
-- deletion record; and a version dated D that holds a tag of a customer the table holds no row of (one first seen
-- in such a re-run). A version dated D without any of these is one the table was built from: on the first run
-- after a full build every first version is dated D, and only the customers whose tags changed are recomputed.
{{ config(**group_replace_incremental(['customer_token'])) }}
{%- set tag_columns = tag_profile_columns() %}
{%- set since = tag_history_recorded_since(ref('snap_customer_tags')) %}
with

{%- if since is none %}

history as (
    select * from {{ ref('snap_customer_tags') }}
),
{%- else %}

-- read twice (the customers touched, then their versions): not materialized, as touched_groups says why
versions_all as {{ not_materialized() }} (
    select * from {{ ref('snap_customer_tags') }}
),

{%- set newest = "cast('" ~ since.isoformat() ~ "' as date)" %}

touched as (
    select distinct customer_token
    from versions_all
    where
        dbt_valid_from > {{ newest }}
        or dbt_valid_to >= {{ newest }}
        or dbt_is_deleted = 'True'
        or (
            dbt_valid_from = {{ newest }}
            and (
                {%- for column, _ in tag_columns %}
                {{ 'or ' if not loop.first }}{{ column }}
                {%- endfor %}
            )
            and customer_token not in (select held.customer_token from {{ this }} as held)
        )
),

history as (
    select versions_all.*
    from versions_all
    inner join touched
        on versions_all.customer_token = touched.customer_token
),
{%- endif %}

versions as (
    select
        customer_token,
        dbt_valid_from as change_date,
        {%- for column, _ in tag_columns %}
        case when dbt_is_deleted = 'True' then false else {{ column }} end as {{ column }},
        {%- endfor %}
        row_number() over (partition by customer_token order by dbt_valid_from) = 1 as is_first_observation
    from history
),

compared as (
    select
        customer_token,
        change_date,
        {%- for column, _ in tag_columns %}
        {{ column }},
        coalesce(
            lag({{ column }}) over (partition by customer_token order by change_date), false
        ) as previous_{{ column }},
        {%- endfor %}
        is_first_observation
    from versions
),

transitions as (
    {%- for column, tag_code in tag_columns %}
    select
        customer_token,
        change_date as transition_date,
        '{{ tag_code }}' as tag_code,
        case when {{ column }} then 'entered' else 'left' end as transition,
        is_first_observation
    from compared
    where {{ column }} <> previous_{{ column }}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
)

select
    cast(transition_date as date) as transition_date,
    cast(customer_token as varchar) as customer_token,
    cast(tag_code as varchar) as tag_code,
    cast(transition as varchar) as transition,
    is_first_observation
from transitions
