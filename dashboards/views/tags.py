"""Tag populations and their trends: filter by tag, segment and date; drill down to aggregate counts only."""

import sys

import pandas as pd
import streamlit as st

from taglake.ops import dashboard as dash

config = dash.DashboardConfig.from_args(sys.argv[1:])
st.title("Tag populations")
st.caption(
    f"Customers holding each tag per day (agg_tag_population_daily) on `{config.target}`. "
    f"Counts under {dash.SMALL_COUNT_THRESHOLD} show as `{dash.SUPPRESSED}`: no drill-down singles out a customer."
)

population = pd.DataFrame(dash.cached_records(config, "tag_population_daily"))
catalog = pd.DataFrame(dash.cached_records(config, "tag_catalog"))
if population.empty:
    st.info("No tag population rows in this build yet: run `make demo` (or `taglake build`) first.")
    st.stop()
population["as_of_date"] = pd.to_datetime(population["as_of_date"]).dt.date
names = dict(zip(catalog["tag_code"], catalog["tag_name_en"], strict=True)) if not catalog.empty else {}
codes = sorted(population["tag_code"].unique())

left, middle, right = st.columns(3)
largest = population.groupby("tag_code")["tagged_customer_count"].sum().idxmax()  # the default: the largest tag
chosen = left.multiselect("Tag", codes, default=[largest], format_func=lambda c: f"{c} — {names.get(c, '')}", key="tag")
dimension = middle.selectbox("Segment by", ["city", "age_band", "risk_grade"], key="dimension")
values = sorted(population[dimension].dropna().unique())
segment = right.multiselect(f"Only {dimension}", values, key="segment")
first, last = min(population["as_of_date"]), max(population["as_of_date"])
if first < last:
    dates = st.slider("Dates", min_value=first, max_value=last, value=(first, last), key="dates")
else:  # the marts hold one day: nothing to choose
    dates = (first, last)
    st.caption(f"Dates: {first} (the only day the mart holds)")

rows = population[population["tag_code"].isin(chosen or codes)]
rows = rows[(rows["as_of_date"] >= dates[0]) & (rows["as_of_date"] <= dates[1])]
if segment:
    rows = rows[rows[dimension].isin(segment)]

st.subheader("Trend")
trend = rows.groupby(["as_of_date", "tag_code"], as_index=False)["tagged_customer_count"].sum()
# A small count is left out of the chart, not drawn: its hover would show the exact number.
trend["tagged_customers"] = trend["tagged_customer_count"].where(
    trend["tagged_customer_count"] >= dash.SMALL_COUNT_THRESHOLD
)
chart = trend.pivot(index="as_of_date", columns="tag_code", values="tagged_customers")
if chart.empty:
    st.info("No rows for this selection.")
else:
    st.line_chart(chart)

st.subheader(f"Drill-down by {dimension} on {dates[1]}")
day = rows[rows["as_of_date"] == dates[1]]
drill = day.groupby(["tag_code", dimension], as_index=False)["tagged_customer_count"].sum()
drill = drill.sort_values(["tag_code", dimension])
shown = pd.DataFrame(dash.suppressed_rows(drill.to_dict("records")), columns=list(drill.columns))
st.table(shown.astype(str), hide_index=True)
