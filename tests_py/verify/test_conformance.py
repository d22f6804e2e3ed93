"""The SQL compiled for Athena and Redshift, run on the local lake, builds every mart exactly as the local build."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

import pytest

from taglake.core.project import Project
from taglake.verify.conformance import _normal, marts, run_conformance, short_name
from taglake.verify.offline_compile import CompiledProject

Compiled = Callable[[str], CompiledProject]


def _local_marts(built_project: Project) -> set[str]:
    manifest = json.loads((built_project.target_path / "manifest.json").read_text(encoding="utf-8"))
    return {
        uid.split(".", 2)[2]
        for uid, n in manifest["nodes"].items()
        if n["resource_type"] == "model"
        and n["original_file_path"].startswith("models/marts/")
        and n["config"]["materialized"] != "ephemeral"
        and n["config"].get("full_refresh") is not False  # a history: what runs appended, not its SQL's result
    }


@pytest.mark.dbt
@pytest.mark.parametrize("target", ["athena", "redshift"])
def test_every_mart_from_the_engines_sql_equals_the_local_build(
    aws_compiled: Compiled, built_project: Project, target: str
) -> None:
    compiled = aws_compiled(target)
    assert {short_name(m) for m in marts(compiled)} == _local_marts(built_project) != set()
    results = run_conformance(
        compiled, built_project.target_path / "manifest.json", built_project.duckdb_path, upstream_too=True
    )
    compared = {r.mart for r in results}
    assert _local_marts(built_project) <= compared
    assert any(name.startswith("base_") for name in compared), "conformance starts from staging"
    assert all(r.native_rows > 0 for r in results if r.mart in _local_marts(built_project))
    unequal = [str(r) for r in results if not r.equal]
    assert not unequal, "\n".join(unequal)


@pytest.mark.dbt
def test_a_changed_upstream_model_is_noticed_in_the_mart(aws_compiled: Compiled, built_project: Project) -> None:
    compiled = aws_compiled("athena")
    holdings = next(n for n in compiled.nodes.values() if n.name == "int_product_holdings_pivoted")
    assert "'deposit'" in holdings.sql
    broken = replace(holdings, sql=holdings.sql.replace("'deposit'", "'loan'"))
    tampered = replace(compiled, nodes={**compiled.nodes, holdings.unique_id: broken})
    (result,) = run_conformance(
        tampered, built_project.target_path / "manifest.json", built_project.duckdb_path, only=["dim_customers"]
    )
    assert not result.equal
    assert "assets_under_management_twd" in result.differing_columns
    assert "customer_token" not in result.differing_columns


def test_values_compare_exactly_except_floats_to_nine_significant_digits() -> None:
    assert _normal(0.1 + 0.2) == _normal(0.3)
    assert _normal(1.0000001) != _normal(1.0000002)
    assert _normal(Decimal("1.50")) == _normal(Decimal("1.5"))
    assert _normal(Decimal("1.51")) != _normal(Decimal("1.5"))
    assert _normal("a") == "a"


@pytest.mark.dbt
def test_without_the_json_path_fix_redshift_app_events_do_not_conform(
    aws_compiled: Compiled, built_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlglot import exp

    import taglake.verify.transpile as transpile

    fixes = transpile._redshift_fixes
    monkeypatch.setattr(
        transpile, "_redshift_fixes", lambda node: node if isinstance(node, exp.JSONExtractScalar) else fixes(node)
    )
    results = run_conformance(
        aws_compiled("redshift"),
        built_project.target_path / "manifest.json",
        built_project.duckdb_path,
        only=["fct_quarantined_rows"],
        upstream_too=True,
    )
    unequal = {r.mart: r for r in results if not r.equal}
    assert "base_digital__app_events" in unequal
    assert "device_os" in unequal["base_digital__app_events"].differing_columns
