"""Marts publish a shape: every mart enforces a contract, and a breaking change to a versioned one is refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from project_copy import copy_project, dbt

from taglake.privacy.dbt_runner import prepare_local

pytestmark = pytest.mark.dbt

VERSIONED = {"customer_tag_profile", "customer_training_features"}


def test_every_mart_enforces_a_contract_and_describes_every_column(dbt_manifest: dict) -> None:
    marts = [n for n in dbt_manifest["nodes"].values() if n["resource_type"] == "model" and "marts" in n["fqn"]]
    assert len(marts) >= 10
    for node in marts:
        assert node["contract"]["enforced"], f"{node['name']}: contract not enforced"
        assert node["description"].strip(), f"{node['name']}: no description"
        for name, column in node["columns"].items():
            assert column["description"].strip(), f"{node['name']}.{name}: no description"
            assert column["data_type"], f"{node['name']}.{name}: no data_type"
    assert {n["name"] for n in marts if n.get("version") is not None} >= VERSIONED


def test_removing_a_column_from_a_versioned_mart_is_a_breaking_change(tmp_path: Path) -> None:
    """What CI runs against the production manifest (`dbt compile --select state:modified --state …`)."""
    project = copy_project(tmp_path)
    prepare_local(project, "local")
    assert dbt(project, "parse").returncode == 0
    shutil.copytree(project.target_path, tmp_path / "state")
    models_yml = project.root / "models/marts/tags/_tags__models.yml"
    text = models_yml.read_text(encoding="utf-8")
    start = text.index("      - name: has_val_hnw\n")
    end = text.index("      - name: ", start + 1)
    models_yml.write_text(text[:start] + text[end:], encoding="utf-8")

    result = dbt(project, "compile", "--select", "state:modified", "--state", str(tmp_path / "state"))
    assert result.returncode != 0
    assert "Breaking change to contract" in result.stdout and "has_val_hnw" in result.stdout
