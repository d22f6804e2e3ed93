"""Core: what every concern shares: project paths, errors, the source-YAML reader, text tables, scratch copies.
Imports nothing of taglake outside core."""
