-- Which spend categories carry the most card spend over the whole lake, at home and abroad?
-- Starts from the daily spend mart; change the date filter to look at one month.
select
    spend_category,
    sum(case when not is_foreign then spend_twd else 0 end) as domestic_spend_twd,
    sum(case when is_foreign then spend_twd else 0 end) as foreign_spend_twd,
    sum(transaction_count) as transaction_count
from {{ ref('agg_card_spend_daily') }}
group by spend_category
order by domestic_spend_twd + foreign_spend_twd desc
