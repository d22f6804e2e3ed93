"""Data quality: the quality history's pass rates by dimension and source, quarantine rates, freshness and
reconciliation."""

import sys

import pandas as pd
import streamlit as st

from taglake.ops import dashboard as dash

config = dash.DashboardConfig.from_args(sys.argv[1:])
st.title("Data quality")
st.caption(f"The quality history (fct_quality_check_results) and the intake marts on `{config.target}`.")

checks = pd.DataFrame(dash.cached_records(config, "quality_checks"))
intake = pd.DataFrame(dash.cached_records(config, "raw_intake_daily"))
completeness = pd.DataFrame(dash.cached_records(config, "feed_completeness_daily"))
reconciliation = pd.DataFrame(dash.cached_records(config, "source_reconciliation"))

st.subheader("Pass rates")
if checks.empty:
    st.info("No checks recorded yet: the quality history fills on each build (`taglake build`).")
else:
    checks["as_of_date"] = pd.to_datetime(checks["as_of_date"]).dt.date
    sources = sorted(checks["model"].dropna().unique())
    picked = st.multiselect("Source (model checked)", sources, key="source")
    view = checks[checks["model"].isin(picked)] if picked else checks
    view = view.assign(passed=view["checks"].where(view["status"] == "pass", 0))
    for by, label in (("quality_dimension", "Quality dimension"), ("model", "Source")):
        rates = view.groupby(by, as_index=False)[["checks", "passed"]].sum()
        rates["pass_rate"] = (rates["passed"] / rates["checks"]).round(4)
        st.markdown(f"**By {label.lower()}**")
        st.table(rates.rename(columns={by: label}), hide_index=True)

st.subheader("Quarantine rates")
if intake.empty:
    st.info("No intake rows.")
else:
    intake["landing_date"] = pd.to_datetime(intake["landing_date"]).dt.date
    intake["quarantine_rate"] = (intake["quarantined_rows"] / intake["raw_rows"].where(intake["raw_rows"] > 0)).round(4)
    st.line_chart(intake.pivot_table(index="landing_date", columns="source_table", values="quarantine_rate"))

st.subheader("Freshness")
if completeness.empty:
    st.info("No landing days recorded.")
else:
    completeness["landing_date"] = pd.to_datetime(completeness["landing_date"]).dt.date
    newest = completeness.groupby("source_table", as_index=False)["landing_date"].max()
    newest["days_behind_newest_feed"] = (newest["landing_date"].max() - newest["landing_date"]).map(lambda d: d.days)
    incomplete = completeness[~completeness["is_complete"].astype(bool)].groupby("source_table").size()
    newest["incomplete_days"] = newest["source_table"].map(incomplete).fillna(0).astype(int)
    st.table(newest.rename(columns={"landing_date": "newest_landing_date"}), hide_index=True)

st.subheader("Reconciliation")
if reconciliation.empty:
    st.info("No reconciliation rows.")
else:
    parts = reconciliation["accepted_rows"] + reconciliation["collapsed_rows"] + reconciliation["quarantined_rows"]
    reconciliation["balanced"] = parts == reconciliation["raw_rows"]
    st.table(reconciliation, hide_index=True)
