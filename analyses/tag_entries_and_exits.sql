-- Who entered or left a tag, day by day? Per transition date and tag, customers entering and leaving and the net
-- change, leaving out each customer's first observation (on the first run everybody "enters"). Add
-- `where tag_code = '…'` for one tag, or select customer_token from fct_tag_transitions for the list.
with

transitions as (
    select * from {{ ref('fct_tag_transitions') }}
)

select
    transition_date,
    tag_code,
    sum(case when transition = 'entered' and not is_first_observation then 1 else 0 end) as entered,
    sum(case when transition = 'left' then 1 else 0 end) as left_tag,
    sum(case when transition = 'entered' and not is_first_observation then 1 else 0 end)
    - sum(case when transition = 'left' then 1 else 0 end) as net_change,
    sum(case when is_first_observation then 1 else 0 end) as first_observed
from transitions
group by transition_date, tag_code
order by transition_date, tag_code
