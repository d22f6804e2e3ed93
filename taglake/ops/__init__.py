"""Operating the lake: local builds, the daily run, queries, the dbt passthrough and its guard."""
