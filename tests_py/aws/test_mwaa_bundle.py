"""`taglake mwaa-bundle`: what goes to the MWAA bucket, and the manifest it refuses to ship (marker `airflow`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from project_copy import scratch_project

from taglake.aws.mwaa_bundle import make_bundle, manifest_problems, tracked_files
from taglake.core.project import Project
from taglake.privacy.keys import check_key_file, init_key

pytestmark = pytest.mark.airflow


def manifest_with(tmp_path: Path, description: str) -> Path:
    path = tmp_path / "target" / "manifest.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "nodes": {
            "test.taglake.not_null_x_evidence.c769534687": {"description": "", "depends_on": {"nodes": []}},
            "model.taglake.fct_x": {"description": description},
        },
        "exposures": {"exposure.taglake.api": {"owner": {"email": "app-platform@bank.example", "name": "Apps"}}},
        "parent_map": {"test.taglake.not_null_x_evidence.c769534687": ["model.taglake.fct_x"]},
    }
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_dbt_test_hashes_and_exposure_owner_addresses_are_not_taken_for_personal_data(tmp_path: Path) -> None:
    project = scratch_project(tmp_path)  # no lake, no key under tmp_path: the shape check alone
    assert manifest_problems(manifest_with(tmp_path, "one row per customer"), project) == []


@pytest.mark.redteam
@pytest.mark.parametrize(
    ("planted", "kind"),
    [
        ("A123456789", "national_id"),
        ("Ａ１２３４５６７８９", "national_id"),
        ("0912-345-678", "mobile"),
        ("wang.xiaoming@gmail.com", "email"),
    ],
)
def test_a_manifest_with_a_personal_value_is_refused_by_kind(tmp_path: Path, planted: str, kind: str) -> None:
    project = scratch_project(tmp_path)
    problems = manifest_problems(manifest_with(tmp_path, f"for example {planted}"), project)
    assert problems == [f"a {kind} shape"] and planted not in " ".join(problems)


@pytest.mark.redteam
def test_a_manifest_with_the_local_keys_material_is_refused(tmp_path: Path) -> None:
    project = scratch_project(tmp_path)
    init_key(project.key_file)
    key = check_key_file(project.key_file)
    problems = manifest_problems(manifest_with(tmp_path, f"seed {key.k_inner}"), project)
    assert problems and all(key.k_inner not in p for p in problems)


def test_the_bundle_ships_tracked_files_and_the_production_manifest_only(tmp_path: Path) -> None:
    root = Project.locate().root
    project = scratch_project(tmp_path)
    bundle = make_bundle(project, tmp_path / "mwaa", target="athena")
    out = tmp_path / "mwaa"
    assert (out / "requirements.txt").read_text(encoding="utf-8").count("\n-c ") == 1
    assert "astronomer-cosmos==1.15.1" in (out / "requirements.txt").read_text(encoding="utf-8")
    assert (out / "startup.sh").is_file() and (out / "dags" / "taglake_daily.py").is_file()
    assert (out / "dags" / "taglake_ops" / "commands.py").is_file()
    shipped = {p.relative_to(bundle.project).as_posix() for p in bundle.project.rglob("*") if p.is_file()}
    assert shipped == {*tracked_files(root), "target/manifest.json"}
    assert not any(name.startswith(("lake/", "build/", ".secrets/", ".venv/", "logs/")) for name in shipped)
    manifest = json.loads(bundle.manifest.read_text(encoding="utf-8"))
    assert manifest["metadata"]["adapter_type"] == "athena"
