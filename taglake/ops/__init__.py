"""Operating the lake: what users run against a build (queries, the dbt passthrough)."""
