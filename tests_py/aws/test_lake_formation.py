"""The Lake Formation tags taglake derives are accepted and applied by dbt-athena's own tag manager (moto)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from offline_env import OFFLINE_TARGET_ENV

from taglake.core.project import Project
from taglake.privacy.dbt_runner import compile_inline
from taglake.verify.offline_compile import CompiledProject

KINDS = ["clear", "tokenized", "masked", "generalized", "none"]


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "ap-northeast-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield


@pytest.mark.dbt
def test_dim_customers_columns_are_tagged_by_pii_kind_through_dbt_athena(
    aws: None, aws_compiled: Callable[[str], CompiledProject], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dbt.adapters.athena.lakeformation import LfTagsConfig, LfTagsManager
    from dbt.adapters.athena.relation import AthenaRelation

    manifest = json.loads(aws_compiled("athena").manifest_path.read_text(encoding="utf-8"))
    columns = list(manifest["nodes"]["model.taglake.dim_customers"]["columns"])
    for name, value in OFFLINE_TARGET_ENV["athena"].items():
        monkeypatch.setenv(name, value)
    project = Project.locate(artifacts_dir=tmp_path, duckdb_path=tmp_path / "t.duckdb")
    config = json.loads(
        compile_inline(project, "{{ tojson(pii_lf_tags_config(" + repr(columns) + ", 'marts')) }}", target="athena")
    )

    glue, lf = boto3.client("glue"), boto3.client("lakeformation")
    glue.create_database(DatabaseInput={"Name": "taglake_marts"})
    glue.create_table(
        DatabaseName="taglake_marts",
        TableInput={
            "Name": "dim_customers",
            "StorageDescriptor": {"Columns": [{"Name": c, "Type": "string"} for c in columns]},
        },
    )
    lf.create_lf_tag(TagKey="pii", TagValues=KINDS)
    lf.create_lf_tag(TagKey="layer", TagValues=["marts", "staging"])
    table = {"DatabaseName": "taglake_marts", "Name": "dim_customers"}
    # moto cannot read the tags of a table that has none (KeyError): tag it first, as an earlier run would have.
    lf.add_lf_tags_to_resource(Resource={"Table": table}, LFTags=[{"TagKey": "layer", "TagValues": ["staging"]}])

    relation = AthenaRelation.create(database="awsdatacatalog", schema="taglake_marts", identifier="dim_customers")
    LfTagsManager(lf, relation, LfTagsConfig(**config)).process_lf_tags()

    got = lf.get_resource_lf_tags(Resource={"TableWithColumns": {**table, "ColumnNames": columns}})
    by_column = {c["Name"]: {t["TagKey"]: t["TagValues"] for t in c["LFTags"]} for c in got["LFTagsOnColumns"]}
    assert set(by_column) == set(columns), "every column is tagged"
    assert by_column["customer_token"] == {"pii": ["tokenized"]}
    for generalized in ("city", "district", "birth_year", "age_band"):
        assert by_column[generalized] == {"pii": ["generalized"]}, generalized
    assert by_column["has_mobile"] == {"pii": ["none"]} and by_column["loan_balance_twd"] == {"pii": ["none"]}
    assert not any(tags == {"pii": ["clear"]} for tags in by_column.values()), "no clear text in a mart"
    table_tags = lf.get_resource_lf_tags(Resource={"Table": table})["LFTagsOnTable"]
    assert [(t["TagKey"], t["TagValues"]) for t in table_tags] == [("layer", ["marts"])]
