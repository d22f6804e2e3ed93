"""Verification without AWS: offline compile for Athena and Redshift, transpile to DuckDB, conformance."""
