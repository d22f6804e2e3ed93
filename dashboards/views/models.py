"""Model history: score distributions and PSI drift per model version, and performance against outcomes."""

import sys

import pandas as pd
import streamlit as st

from taglake.ops import dashboard as dash

config = dash.DashboardConfig.from_args(sys.argv[1:])
st.title("Model history")
st.caption(
    f"Score distributions and PSI drift against each version's first month (agg_model_score_*_monthly), and "
    f"AUC and lift against the outcomes (agg_model_performance_monthly) on "
    f"`{config.target}`. Counts under {dash.SMALL_COUNT_THRESHOLD} show as `{dash.SUPPRESSED}`."
)

drift = pd.DataFrame(dash.cached_records(config, "score_drift_monthly"))
distribution = pd.DataFrame(dash.cached_records(config, "score_distribution_monthly"))
if drift.empty:
    st.info("No model scores in this build yet.")
    st.stop()
drift["score_month"] = pd.to_datetime(drift["score_month"]).dt.date
distribution["score_month"] = pd.to_datetime(distribution["score_month"]).dt.date
versions = sorted({f"{n} {v}" for n, v in zip(drift["model_name"], drift["model_version"], strict=True)})
picked = st.selectbox("Model version", versions, key="version")
name, version = picked.rsplit(" ", 1)
mine = drift[(drift["model_name"] == name) & (drift["model_version"].astype(str) == version)].sort_values("score_month")

st.subheader("PSI drift by month")
st.line_chart(mine.set_index("score_month")[["psi"]])
table = mine[["score_month", "is_baseline", "score_count", "customer_count", "mean_score", "psi", "drift_level"]]
st.table(pd.DataFrame(dash.suppressed_rows(table.to_dict("records"))).astype(str), hide_index=True)

st.subheader("Score distribution")
months = sorted(mine["score_month"].unique())
month = st.selectbox("Month", months, index=len(months) - 1, key="month")
bins = distribution[
    (distribution["model_name"] == name)
    & (distribution["model_version"].astype(str) == version)
    & (distribution["score_month"] == month)
].sort_values("bin_index")
bins = bins.assign(score_bin=bins["bin_lower"].map(lambda v: f"{v:.1f}"))
st.bar_chart(bins.set_index("score_bin")[["score_share", "baseline_share"]])

st.subheader("Performance against outcomes")
performance = pd.DataFrame(dash.cached_records(config, "model_performance_monthly"))
if performance.empty:
    st.info("No outcomes in this build yet: ml.model_outcomes lands a week after each scoring run.")
    st.stop()
st.caption(
    f"Every version of {name} against the outcomes of the customers it scored (agg_model_performance_monthly): "
    "AUC in its rank form (0.5 is a coin) and the lift of the top score decile, by month. A measure over a count "
    f"under {dash.SMALL_COUNT_THRESHOLD} shows as `{dash.SUPPRESSED}`."
)
performance["outcome_month"] = pd.to_datetime(performance["outcome_month"]).dt.date
judged = performance[performance["model_name"] == name].sort_values(["outcome_month", "model_version"])
# Shown to 3 decimals (lift 2): enough to compare versions, and no long digit runs on the page.
judged = judged.round({"positive_rate": 3, "auc": 3, "top_decile_lift": 2})
shown = pd.DataFrame(dash.suppressed_rows(judged.to_dict("records")))
columns = ["outcome_month", "model_version", "customer_count", "positive_count", "positive_rate", "auc"]
columns += ["top_decile_lift"]
if not shown.empty:
    auc = shown.assign(auc=pd.to_numeric(shown["auc"], errors="coerce"))  # a suppressed AUC is not charted
    st.line_chart(auc.pivot_table(index="outcome_month", columns="model_version", values="auc"))
    st.table(shown[columns].astype(str), hide_index=True)
else:
    st.info(f"No outcomes for {name} in this build yet.")
