"""`taglake ml export` writes only the columns Lake Formation lets the role read: each column's LF-tags from the
plan (`lake_formation_plan()` over the session's build) against the role's tag-policy grants
(taglake.aws.lake_formation.role_grants). Today the data scientists read every column of the features marts; a
declaration that takes `generalized` from them must make the same export withhold the generalised columns."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from taglake.core.project import Project
from taglake.ml import export
from taglake.privacy.access_policy import load_access

pytestmark = [pytest.mark.sagemaker, pytest.mark.dbt]
TRAINING = "customer_training_features_v1"


@pytest.fixture(scope="module")
def plan(built_project: Project) -> dict[str, Any]:
    return export.lake_formation_plan(built_project)


def _relations(project: Project) -> list[export.Relation]:
    return export.role_relations(project.target_path / "manifest.json", "data_scientist", project.root)


def test_the_data_scientists_read_every_column_of_the_features_marts_as_declared(
    built_project: Project, plan: dict[str, Any]
) -> None:
    relations = _relations(built_project)
    columns = export.readable_columns(load_access(built_project.root), "data_scientist", plan, relations)
    assert {r.name for r in relations} == {TRAINING, "fct_customer_monthly_metrics"}
    assert all(withheld == [] for _, withheld in columns.values()), columns
    assert "customer_token" in columns[TRAINING][0] and "age_band" in columns[TRAINING][0]


def test_a_column_kind_the_role_may_not_read_is_withheld_from_the_extract(
    built_project: Project, plan: dict[str, Any], tmp_path: Path
) -> None:
    policy = load_access(built_project.root)
    scientist = policy.roles["data_scientist"]
    narrowed = dataclasses.replace(scientist, pii=tuple(k for k in scientist.pii if k != "generalized"))
    policy = dataclasses.replace(policy, roles={**policy.roles, "data_scientist": narrowed})
    relations = [r for r in _relations(built_project) if r.name == TRAINING]
    columns = export.readable_columns(policy, "data_scientist", plan, relations)
    readable, withheld = columns[TRAINING]
    # the generalised columns (the plan's `pii: generalized`) and only those
    generalized = set(
        next(e for e in plan.values() if e["table"] == TRAINING)["config"]["tags_columns"]["pii"]["generalized"]
    )
    assert set(withheld) == generalized and {"age_band", "city"} <= generalized
    as_of = export.build_as_of(built_project.duckdb_path, relations)
    (done,) = export.export_relations(built_project.duckdb_path, relations, tmp_path, as_of, columns)
    written = set(pq.read_schema(done.path).names)
    assert written == set(readable) and not written & generalized
    assert set(done.withheld) == generalized
    # a role that may read no column of a relation gets no extract of it
    nothing = {TRAINING: ([], readable + withheld)}
    with pytest.raises(export.ExportError, match=TRAINING):
        export.export_relations(built_project.duckdb_path, relations, tmp_path / "none", as_of, nothing)
