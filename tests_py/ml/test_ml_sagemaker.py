"""The SageMaker training path on moto, over the session's small build: the masked training-feature extract as an
S3 channel with its manifests, the training job read back, and a batch transform's scores written back as the score
source's file, keyed so that staging's token is the token the model saw."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import duckdb
import pyarrow.parquet as pq
import pytest
from moto import mock_aws
from project_copy import run_taglake

from taglake.core.project import Project
from taglake.ml import export, sagemaker, scores
from taglake.privacy import system_identity
from taglake.privacy.keys import read_key
from taglake.privacy.tokens import tokenize

pytestmark = [pytest.mark.sagemaker, pytest.mark.dbt]

ROOT = Path(__file__).resolve().parents[2]
REGION = "ap-northeast-1"
BUCKET = "taglake-dev-123456789012-consumption"
ROLE_ARN = "arn:aws:iam::123456789012:role/taglake-dev-data-scientist-sagemaker"
IMAGE = "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/propensity-training:1.4.0"
TRAINING = "customer_training_features_v1"


@pytest.fixture(scope="module")
def training_extract(built_project: Project, tmp_path_factory: pytest.TempPathFactory) -> export.Exported:
    relations = export.role_relations(built_project.target_path / "manifest.json", "data_scientist", ROOT)
    wanted = [r for r in relations if r.name == TRAINING]
    as_of = export.build_as_of(built_project.duckdb_path, wanted)
    (done,) = export.export_relations(built_project.duckdb_path, wanted, tmp_path_factory.mktemp("ml"), as_of)
    return done


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        kms_key = boto3.client("kms", region_name=REGION).create_key(Description="consumption")["KeyMetadata"]["Arn"]
        yield {"s3": s3, "sagemaker": boto3.client("sagemaker", region_name=REGION), "kms": kms_key}


def _channel(aws: dict, extract: export.Exported) -> sagemaker.Channel:
    as_of = extract.path.parent.name.split("=")[1]
    return sagemaker.write_channel(
        aws["s3"], bucket=BUCKET, relation=TRAINING, as_of=as_of, files=[extract.path], kms_key_id=aws["kms"]
    )


def test_the_channel_holds_the_extract_and_manifests_listing_each_object_with_its_rows(
    aws: dict, training_extract: export.Exported, built_project: Project
) -> None:
    channel = _channel(aws, training_extract)
    as_of = training_extract.path.parent.name.split("=")[1]
    prefix = f"sagemaker/{TRAINING}/as_of_date={as_of}/"
    keys = sorted(o["Key"] for o in aws["s3"].list_objects_v2(Bucket=BUCKET, Prefix=prefix)["Contents"])
    assert keys == [f"{prefix}manifest.json", f"{prefix}train.manifest", f"{prefix}train/part-00000.parquet"]
    for key in keys:
        head = aws["s3"].head_object(Bucket=BUCKET, Key=key)
        assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", aws["kms"])
    ours = sagemaker.read_channel_manifest(aws["s3"], BUCKET, prefix)
    con = duckdb.connect(str(built_project.duckdb_path), read_only=True)
    try:
        (mart_rows,) = con.execute(f"select count(*) from taglake_marts.{TRAINING}").fetchone()  # type: ignore[misc]
    finally:
        con.close()
    assert ours["rows"] == channel.rows == mart_rows > 0
    assert [(o["key"], o["rows"]) for o in ours["objects"]] == [(f"{prefix}train/part-00000.parquet", mart_rows)]
    assert ours["columns"][0] == "customer_token" and "national_id" not in ours["columns"]
    sm_manifest = json.loads(aws["s3"].get_object(Bucket=BUCKET, Key=f"{prefix}train.manifest")["Body"].read())
    assert sm_manifest == [{"prefix": f"s3://{BUCKET}/{prefix}train/"}, "part-00000.parquet"]
    body = aws["s3"].get_object(Bucket=BUCKET, Key=f"{prefix}train/part-00000.parquet")["Body"].read()
    assert ours["objects"][0]["sha256"] == hashlib.sha256(body).hexdigest()


def test_the_training_job_reads_the_manifest_channel_isolated_and_encrypted(
    aws: dict, training_extract: export.Exported
) -> None:
    channel = _channel(aws, training_extract)
    request = sagemaker.training_job_request(
        job_name="churn-propensity-20260630",
        channel=channel,
        image_uri=IMAGE,
        role_arn=ROLE_ARN,
        kms_key_id=aws["kms"],
        output_uri=f"s3://{BUCKET}/sagemaker/models/churn_propensity/",
        hyperparameters={"label": "churned_90d"},
    )
    arn = sagemaker.create_training_job(aws["sagemaker"], request)
    job = aws["sagemaker"].describe_training_job(TrainingJobName="churn-propensity-20260630")
    assert job["TrainingJobArn"] == arn
    assert job["RoleArn"] == ROLE_ARN
    assert job["AlgorithmSpecification"]["TrainingImage"] == IMAGE
    (source,) = job["InputDataConfig"]
    s3_source = source["DataSource"]["S3DataSource"]
    assert (source["ChannelName"], s3_source["S3DataType"], s3_source["S3Uri"]) == (
        "train",
        "ManifestFile",
        channel.manifest_uri,
    )
    assert source["ContentType"] == "application/x-parquet"
    assert job["OutputDataConfig"] == {
        "S3OutputPath": f"s3://{BUCKET}/sagemaker/models/churn_propensity/",
        "KmsKeyId": aws["kms"],
    }
    assert job["ResourceConfig"]["VolumeKmsKeyId"] == aws["kms"]
    assert job["EnableNetworkIsolation"] is True
    assert job["EnableInterContainerTrafficEncryption"] is True
    assert "VpcConfig" not in job


def test_batch_transform_scores_return_as_the_score_source_keyed_to_the_same_token(
    training_extract: export.Exported, built_project: Project, tmp_path: Path
) -> None:
    tokens = sorted(pq.read_table(training_extract.path).column("customer_token").to_pylist())[:25]
    out = tmp_path / "part-00000.csv.out"
    out.write_text("".join(f"{t},{i / 25:.4f}\n" for i, t in enumerate(tokens)), encoding="utf-8")
    read = scores.read_transform_output(out)
    identities = scores.identities_from_lake(built_project.lake_dir, built_project.key_file)
    lake = tmp_path / "lake"
    scored_at = dt.datetime(2026, 7, 3, 2, 0, tzinfo=dt.UTC)
    path, rows = scores.write_score_source(
        read, identities, lake_dir=lake, model_name="churn_propensity", model_version="1.4.0", scored_at=scored_at
    )
    assert rows == 25
    assert path == lake / "raw/ml/model_scores/year=2026/month=07/day=03/model_scores_20260703.parquet"
    # Read as the source reads it (models/staging/ml/_ml__sources.yml's external_location).
    glob = f"{lake}/raw/ml/model_scores/year=*/month=*/day=*/*.parquet"
    con = duckdb.connect()
    try:
        got = con.execute(
            f"select national_id, model_name, model_version, scored_at, score, year, month, day from read_parquet("
            f"'{glob}', union_by_name=true, hive_partitioning=true, hive_types_autocast=false, "
            "hive_types={'year': 'INTEGER', 'month': 'INTEGER', 'day': 'INTEGER'}) order by score"
        ).fetchall()
    finally:
        con.close()
    key = read_key(built_project.key_file)
    assert [tokenize(r[0], "national_id", key.k_inner, key.k_outer) for r in got] == tokens
    assert {(r[1], r[2], r[3], r[5], r[6], r[7]) for r in got} == {
        ("churn_propensity", "1.4.0", dt.datetime(2026, 7, 3, 2, 0), 2026, 7, 3)
    }


@pytest.mark.redteam
@pytest.mark.parametrize(
    ("line", "rule"),
    [
        ("A123456789,0.5", "64-hex token"),
        ("0912345678,0.5", "64-hex token"),
        ("{token},A123456789", "not a number"),
        ("{token},1.5", "outside [0, 1]"),
        ("{token},nan", "outside [0, 1]"),
        ("{token},0.5,A123456789", "64-hex token"),
    ],
)
def test_a_bad_transform_line_is_refused_naming_the_line_never_the_value(tmp_path: Path, line: str, rule: str) -> None:
    out = tmp_path / "scores.out"
    out.write_text(f"{'a' * 64},0.1\n" + line.format(token="b" * 64) + "\n", encoding="utf-8")
    with pytest.raises(scores.ScoreError) as err:
        scores.read_transform_output(out)
    message = str(err.value)
    assert f"{out}: line 2:" in message and rule in message
    assert "A123456789" not in message and "0912345678" not in message and "b" * 64 not in message


def test_scores_of_unknown_tokens_are_not_written_and_not_named(tmp_path: Path) -> None:
    read = [scores.Score("c" * 64, 0.5), scores.Score("d" * 64, 0.2)]
    with pytest.raises(scores.ScoreError) as err:
        scores.write_score_source(
            read,
            {"c" * 64: "A123456789"},
            lake_dir=tmp_path,
            model_name="churn_propensity",
            model_version="1.0.0",
            scored_at=dt.datetime(2026, 7, 3, tzinfo=dt.UTC),
        )
    assert str(err.value).startswith("1 of 2 scores carry a token of no customer")
    assert "d" * 64 not in str(err.value) and "A123456789" not in str(err.value)
    assert not any(tmp_path.rglob("*.parquet"))


def test_the_score_return_is_refused_without_the_system_act_and_identity(tmp_path: Path) -> None:
    """Refused before anything is read: the transform output, the lake and the key named here do not exist."""
    common = {
        "transform_output": tmp_path / "missing.out",
        "lake_dir": tmp_path / "no-lake",
        "key_file": tmp_path / "no-key.csv",
        "model_name": "churn_propensity",
        "model_version": "1.0.0",
        "scored_at": dt.datetime(2026, 7, 3, tzinfo=dt.UTC),
    }
    with pytest.raises(scores.ScoreError, match="only the system account runs it"):
        scores.return_scores(**common, as_system=False, environ={})
    with pytest.raises(system_identity.SystemIdentityRefused):
        scores.return_scores(**common, as_system=True, environ={})


def test_the_system_account_returns_scores_into_the_lake_through_the_command(
    training_extract: export.Exported, built_project: Project, tmp_path: Path
) -> None:
    identity = tmp_path / "identity" / "system_identity.json"
    system_identity.create_identity_file(identity)
    tokens = sorted(pq.read_table(training_extract.path).column("customer_token").to_pylist())[:5]
    out = tmp_path / "scores.csv.out"
    out.write_text("".join(f"{t},0.{i}\n" for i, t in enumerate(tokens)), encoding="utf-8")
    path, rows = scores.return_scores(
        transform_output=out,
        lake_dir=built_project.lake_dir,
        key_file=built_project.key_file,
        model_name="wealth_propensity",
        model_version="2.0.1",
        scored_at=dt.datetime(2026, 7, 4, 1, 30),
        as_system=True,
        environ={system_identity.ENV: str(identity)},
        out_lake=tmp_path / "lake",
    )
    assert rows == 5 and path.is_file()
    assert pq.read_table(path).column("model_name").to_pylist() == ["wealth_propensity"] * 5


def test_ml_export_writes_the_extracts_and_prints_relations_and_rows(built_project: Project, tmp_path: Path) -> None:
    env = {k: v for k, v in built_project.dbt_env().items() if k != system_identity.ENV}
    done = run_taglake(["ml", "export", "--out", str(tmp_path)], env, cwd=built_project.root)
    assert done.returncode == 0, done.stderr
    assert "customer_training_features_v1" in done.stdout and "fct_customer_monthly_metrics" in done.stdout
    assert len(list((tmp_path / "extracts" / "features").rglob("part-00000.parquet"))) == 2
    refused = run_taglake(["ml", "export", "--out", str(tmp_path), "--role", "system"], env, cwd=built_project.root)
    assert refused.returncode != 0 and refused.stderr.count("\n") == 1 and "--role" in refused.stderr
