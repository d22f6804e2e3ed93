"""`taglake ml channel` and `taglake ml train` through the CLI entry on moto: an extract (a small one made here, in
the export's layout) uploaded as the channel with its manifests, SSE-KMS; the training job created from that channel
isolated and encrypted, read back with describe_training_job; a bad argument refused in one line naming it, never
its value."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from moto import mock_aws

from taglake import cli

pytestmark = pytest.mark.sagemaker

REGION = "ap-northeast-1"
BUCKET = "taglake-dev-123456789012-consumption"
ROLE_ARN = "arn:aws:iam::123456789012:role/taglake-dev-data-scientist-sagemaker"
IMAGE = "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/propensity-training:1.4.0"
RELATION = "customer_training_features_v1"
AS_OF = "2026-10-31"


@pytest.fixture
def extracts(tmp_path: Path) -> Path:
    folder = tmp_path / "out" / "extracts" / "features" / RELATION / f"as_of_date={AS_OF}"
    folder.mkdir(parents=True)
    tokens = [hashlib.sha256(f"customer-{n}".encode()).hexdigest() for n in range(7)]
    table = pa.table({"customer_token": tokens, "age_band": ["30-39"] * 7, "tenure_months": list(range(7))})
    pq.write_table(table, folder / "part-00000.parquet")
    return tmp_path / "out"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        key = boto3.client("kms", region_name=REGION).create_key(Description="consumption")["KeyMetadata"]["Arn"]
        yield {"s3": s3, "kms": key, "sagemaker": boto3.client("sagemaker", region_name=REGION)}


def _train_args(aws: dict, **changed: str) -> list[str]:
    args = {
        "--job-name": "propensity-2026-10-31",
        "--bucket": BUCKET,
        "--as-of": AS_OF,
        "--image": IMAGE,
        "--role-arn": ROLE_ARN,
        "--kms-key": aws["kms"],
        **changed,
    }
    return ["ml", "train", *(x for kv in args.items() for x in kv)]


def test_ml_channel_then_ml_train_create_an_isolated_encrypted_job_over_the_manifest(
    aws: dict, extracts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    channel = ["ml", "channel", "--extracts", str(extracts), "--bucket", BUCKET, "--kms-key", aws["kms"]]
    assert cli.main(channel) == 0
    prefix = f"sagemaker/{RELATION}/as_of_date={AS_OF}/"
    keys = sorted(o["Key"] for o in aws["s3"].list_objects_v2(Bucket=BUCKET, Prefix=prefix)["Contents"])
    assert keys == [f"{prefix}manifest.json", f"{prefix}train.manifest", f"{prefix}train/part-00000.parquet"]
    for key in keys:
        head = aws["s3"].head_object(Bucket=BUCKET, Key=key)
        assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", aws["kms"])
    assert "7 rows" in capsys.readouterr().out
    assert cli.main(_train_args(aws)) == 0
    job = aws["sagemaker"].describe_training_job(TrainingJobName="propensity-2026-10-31")
    assert job["EnableNetworkIsolation"] is True and job["RoleArn"] == ROLE_ARN
    assert "VpcConfig" not in job
    assert job["OutputDataConfig"] == {"S3OutputPath": f"s3://{BUCKET}/sagemaker/models/", "KmsKeyId": aws["kms"]}
    assert job["ResourceConfig"]["VolumeKmsKeyId"] == aws["kms"]
    (source,) = job["InputDataConfig"]
    assert source["DataSource"]["S3DataSource"]["S3DataType"] == "ManifestFile"
    assert source["DataSource"]["S3DataSource"]["S3Uri"] == f"s3://{BUCKET}/{prefix}train.manifest"
    assert "arn:aws:sagemaker:" in capsys.readouterr().out


@pytest.mark.redteam
@pytest.mark.parametrize(
    ("changed", "named"),
    [
        ({"--role-arn": "A123456789"}, "--role-arn"),  # a national ID where the role belongs
        ({"--image": "0912345678@example.com"}, "--image"),
        ({"--job-name": "job_with_underscores_A123456789"}, "--job-name"),
        ({"--kms-key": "not a key A123456789"}, "--kms-key"),
        ({"--bucket": "Bucket_A123456789"}, "--bucket"),
        ({"--instance-type": "A123456789"}, "--instance-type"),
        ({"--channel": "train/../A123456789"}, "--channel"),
        ({"--relation": "A123456789; drop"}, "--relation"),
        ({"--as-of": "2026-09-30"}, "--as-of"),  # no channel of that date: AWS's NoSuchKey, named by argument
    ],
)
def test_a_bad_training_argument_is_one_line_naming_it_never_its_value(
    aws: dict, extracts: Path, capsys: pytest.CaptureFixture[str], changed: dict[str, str], named: str
) -> None:
    assert cli.main(["ml", "channel", "--extracts", str(extracts), "--bucket", BUCKET, "--kms-key", aws["kms"]]) == 0
    capsys.readouterr()
    assert cli.main(_train_args(aws, **changed)) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and named in err[0] and "Traceback" not in err[0], err
    assert "A123456789" not in err[0] and "0912345678" not in err[0]
    assert aws["sagemaker"].list_training_jobs()["TrainingJobSummaries"] == []


def test_ml_channel_without_an_extract_or_into_a_missing_bucket_is_one_line(
    aws: dict, extracts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = ["ml", "channel", "--extracts", str(tmp_path / "none"), "--bucket", BUCKET, "--kms-key", aws["kms"]]
    assert cli.main(missing) != 0
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "--extracts" in line and "taglake ml export" in line
    nobucket = [
        "ml",
        "channel",
        "--extracts",
        str(extracts),
        "--bucket",
        "no-such-bucket-here",
        "--kms-key",
        aws["kms"],
    ]
    assert cli.main(nobucket) != 0
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "--bucket" in line and "NoSuchBucket" in line
