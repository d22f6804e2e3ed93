"""The incremental models a daily run windows (what `taglake run-window` names), from dbt's manifest."""

from __future__ import annotations

from pathlib import Path

from taglake.ops.run_window import incremental_relations

# Incremental, but with no window column: the quality history is appended per run and has no landing date; the
# history marts are replaced per customer whose snapshot history changed (a snapshot has no landing date either).
UNWINDOWED = frozenset({"fct_quality_check_results", "fct_tag_transitions", "dim_customer_attribute_history"})


def windowed_models(manifest_path: Path) -> set[str]:
    """Every enabled incremental model of the manifest but those without a window column."""
    return set(incremental_relations(manifest_path)) - UNWINDOWED
