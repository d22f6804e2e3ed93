"""Cost: bytes scanned per run and per dashboard query, where the engine reports them (Athena does; DuckDB not)."""

import sys

import pandas as pd
import streamlit as st

from taglake.ops import dashboard as dash
from taglake.ops import query

config = dash.DashboardConfig.from_args(sys.argv[1:])
st.title("Cost")
st.caption(
    f"Bytes scanned as the engine reports them (Athena's `data_scanned_in_bytes`), billed at USD "
    f"{query.USD_PER_TB:g} per TB, per MB, {query.BILLING_MINIMUM_MB} MB minimum. Target `{config.target}`."
)

st.subheader("The last dbt run")
run_results = config.project().target_path / "run_results.json"
invocation, nodes = dash.run_scans(run_results)
if not nodes:
    engine = "DuckDB" if config.engine == "duckdb" else config.engine
    st.info(f"None reported: {engine} reports no bytes scanned for the last run ({run_results.name}).")
else:
    frame = pd.DataFrame([n.__dict__ for n in nodes])
    st.metric("Bytes scanned by run " + str(invocation), f"{frame['scanned_bytes'].sum():,}")
    frame["cost_usd"] = frame["scanned_bytes"].map(query.athena_cost_usd)
    st.table(frame, hide_index=True)

st.subheader("This dashboard's queries")
scans = [dash.cached_scan(config, name) for name in sorted(dash.QUERIES)]
reported = [(name, b) for name, b in zip(sorted(dash.QUERIES), scans, strict=True) if b is not None]
if not reported:
    st.info("None reported: the local engine (DuckDB) reports no bytes scanned for a query.")
else:
    frame = pd.DataFrame(reported, columns=["query", "scanned_bytes"])
    frame["cost_usd"] = frame["scanned_bytes"].map(query.athena_cost_usd)
    st.table(frame, hide_index=True)
