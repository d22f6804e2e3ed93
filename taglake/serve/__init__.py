"""Serving the consumption layer to applications: the tag retrieval Lambda (`app`), its data access (`store`:
local DuckDB, the DynamoDB cache the pipeline refreshes), its local server (`local`) and its benchmark (`bench`)."""
