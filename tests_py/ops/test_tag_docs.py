"""The dbt docs site shows each tag's threshold values and the tag catalog's rows: docs/dbt/tag_reference.md is
generated from the tag docs, the vars and the catalog, stays in step with them, and after `dbt docs generate` (the
session build's) the tag marts' and the catalog seed's descriptions hold every value and every row."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
import yaml

from taglake import cli
from taglake.core.project import Project
from taglake.ops import tag_docs

pytestmark = pytest.mark.docs


def _catalog(root: Path) -> list[dict[str, str]]:
    with (root / "seeds" / "tag_catalog.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _tag_vars(root: Path) -> dict[str, object]:
    doc = yaml.safe_load((root / "dbt_project.yml").read_text(encoding="utf-8"))
    return {k: v for k, v in doc["vars"].items() if k.startswith("tag_")}


def _shown(value: object) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


def test_the_generated_tag_blocks_are_in_step_with_the_docs_vars_and_catalog() -> None:
    root = Project.locate().root
    tag_docs.check(root)  # the committed file is what `taglake tag-docs` makes
    assert tag_docs.undocumented_vars(root) == []


def test_a_threshold_changed_without_regenerating_is_out_of_step(tmp_path: Path) -> None:
    root = Project.locate().root
    for name in ("dbt_project.yml", "seeds", "docs"):
        copy = shutil.copytree if (root / name).is_dir() else shutil.copy2
        copy(root / name, tmp_path / name)
    project_yml = tmp_path / "dbt_project.yml"
    project_yml.write_text(
        project_yml.read_text(encoding="utf-8").replace("tag_dormant_min_days: 60", "tag_dormant_min_days: 61"),
        encoding="utf-8",
    )
    with pytest.raises(tag_docs.TagDocsOutOfStep, match="taglake tag-docs"):
        tag_docs.check(tmp_path)
    tag_docs.write(tmp_path)
    tag_docs.check(tmp_path)
    assert "`tag_dormant_min_days` = **61**" in (tmp_path / tag_docs.OUTPUT).read_text(encoding="utf-8")


def test_tag_docs_check_says_the_committed_file_is_current(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["tag-docs", "--check"]) == 0
    assert "is current" in capsys.readouterr().out


@pytest.mark.dbt
def test_the_docs_site_shows_every_threshold_value_and_every_catalog_row(dbt_manifest: dict) -> None:
    """dbt_manifest is the built_project's, written by its `dbt docs generate`: what the docs site shows."""
    root = Project.locate().root
    nodes = {n["name"]: n for n in dbt_manifest["nodes"].values() if n["package_name"] == "taglake"}
    profile, long_form, catalog_seed = nodes["customer_tag_profile"], nodes["fct_customer_tags"], nodes["tag_catalog"]
    tag_vars = _tag_vars(root)
    assert len(tag_vars) >= 15
    for name, value in tag_vars.items():
        for node in (profile, long_form, catalog_seed):
            assert f"`{name}` | {_shown(value)} |" in node["description"], (node["name"], name)
    rows = _catalog(root)
    for row in rows:
        line = f"| {row['tag_code']} | {row['tag_name_zh']} | {row['tag_name_en']} |"
        assert line in long_form["description"] and line in catalog_seed["description"], row["tag_code"]
    # each active tag's own column shows its rule and the values it compares against
    for row in rows:
        if row["status"] != "active":
            continue
        column = profile["columns"][f"has_{row['tag_code'].lower()}"]
        assert "Thresholds" in column["description"], row["tag_code"]
    hnw = profile["columns"]["has_val_hnw"]["description"]
    assert f"`tag_hnw_min_aum_twd` = **{tag_vars['tag_hnw_min_aum_twd']}**" in hnw
    assert "{{" not in profile["description"] + long_form["description"] + catalog_seed["description"]
