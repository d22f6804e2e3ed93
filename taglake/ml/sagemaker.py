"""The SageMaker training path: the masked training-feature extract as an S3 channel with a manifest, and the
training job that reads it (docs/ml.md § SageMaker).

The channel, in the consumption bucket (SSE-KMS with the bucket's key):

    sagemaker/<relation>/as_of_date=<YYYY-MM-DD>/<channel>/part-00000.parquet   the data, as exported
    sagemaker/<relation>/as_of_date=<YYYY-MM-DD>/<channel>.manifest              SageMaker's ManifestFile
    sagemaker/<relation>/as_of_date=<YYYY-MM-DD>/manifest.json                   taglake's: objects, rows, sha256

SageMaker's manifest (`[{"prefix": "s3://…/<channel>/"}, "part-00000.parquet", …]`) pins the exact objects a job
trains on, so a file added to the prefix later is not read by accident; taglake's manifest records each object's
row count, size and SHA-256, the columns and the as-of date, so a training run can be reconciled with the mart.

The training job (`training_job_request`): one channel read through the ManifestFile, output to the consumption
bucket encrypted with the given KMS key (volume too), network isolation on (the container cannot call out: it can
only read its channels and write its output), no VPC config (with isolation no network is needed), inter-container
traffic encrypted, a stopping condition. The role is the data scientists' SageMaker execution role.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from taglake.core.errors import TaglakeError

SAGEMAKER_PREFIX = "sagemaker"
TRAINING_RELATION = "customer_training_features_v1"  # the features dataset's versioned training table
PARQUET_CONTENT_TYPE = "application/x-parquet"


class ChannelError(TaglakeError):
    """A channel that cannot be written: one line naming the file or argument and the fix."""


@dataclass(frozen=True)
class ChannelObject:
    key: str
    rows: int
    bytes: int
    sha256: str


@dataclass(frozen=True)
class Channel:
    bucket: str
    prefix: str  # sagemaker/<relation>/as_of_date=<date>/
    name: str
    objects: tuple[ChannelObject, ...]
    columns: tuple[str, ...]

    @property
    def rows(self) -> int:
        return sum(o.rows for o in self.objects)

    @property
    def manifest_uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}{self.name}.manifest"

    @property
    def data_uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}{self.name}/"


def channel_prefix(relation: str, as_of: str) -> str:
    return f"{SAGEMAKER_PREFIX}/{relation}/as_of_date={as_of}/"


def _columns(files: list[Path]) -> tuple[str, ...]:
    import pyarrow.parquet as pq  # here, not at the top: `taglake` imports this module for every command

    names = {tuple(pq.read_schema(f).names) for f in files}
    if len(names) != 1:
        raise ChannelError(f"{files[0].parent}: the Parquet files of one channel differ in columns; export them again")
    return names.pop()


def write_channel(
    s3: Any,
    *,
    bucket: str,
    relation: str,
    as_of: str,
    files: list[Path],
    kms_key_id: str,
    name: str = "train",
) -> Channel:
    """Upload the extract's Parquet files as one channel, then its two manifests. Returns what was written."""
    if not files:
        raise ChannelError(f"{relation}: no Parquet file to upload; run taglake ml export first")
    for f in files:
        if not f.is_file():
            raise ChannelError(f"{f}: no such file; run taglake ml export first")
    import pyarrow.parquet as pq

    columns = _columns(files)
    prefix = channel_prefix(relation, as_of)
    encryption = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_id}
    objects: list[ChannelObject] = []
    for f in sorted(files):
        body = f.read_bytes()
        key = f"{prefix}{name}/{f.name}"
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=PARQUET_CONTENT_TYPE, **encryption)
        rows = pq.ParquetFile(f).metadata.num_rows
        objects.append(ChannelObject(key=key, rows=rows, bytes=len(body), sha256=hashlib.sha256(body).hexdigest()))
    channel = Channel(bucket=bucket, prefix=prefix, name=name, objects=tuple(objects), columns=columns)
    sagemaker_manifest = [{"prefix": channel.data_uri}] + [o.key.rsplit("/", 1)[1] for o in objects]
    ours = {
        "relation": relation,
        "as_of_date": as_of,
        "channel": name,
        "content_type": PARQUET_CONTENT_TYPE,
        "columns": list(columns),
        "rows": channel.rows,
        "objects": [o.__dict__ for o in objects],
    }
    for key, doc in ((f"{prefix}{name}.manifest", sagemaker_manifest), (f"{prefix}manifest.json", ours)):
        body = json.dumps(doc, indent=1).encode()
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json", **encryption)
    return channel


def read_channel_manifest(s3: Any, bucket: str, prefix: str) -> dict[str, Any]:
    """taglake's manifest.json of a channel, as written."""
    body = s3.get_object(Bucket=bucket, Key=f"{prefix}manifest.json")["Body"].read()
    return dict(json.loads(body))


def training_job_request(
    *,
    job_name: str,
    channel: Channel,
    image_uri: str,
    role_arn: str,
    kms_key_id: str,
    output_uri: str,
    instance_type: str = "ml.m5.xlarge",
    max_runtime_seconds: int = 3600,
    hyperparameters: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The CreateTrainingJob request for one channel (see the module for what it guarantees)."""
    return {
        "TrainingJobName": job_name,
        "AlgorithmSpecification": {"TrainingImage": image_uri, "TrainingInputMode": "File"},
        "RoleArn": role_arn,
        "InputDataConfig": [
            {
                "ChannelName": channel.name,
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "ManifestFile",
                        "S3Uri": channel.manifest_uri,
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
                "ContentType": PARQUET_CONTENT_TYPE,
                "CompressionType": "None",
            }
        ],
        "OutputDataConfig": {"S3OutputPath": output_uri, "KmsKeyId": kms_key_id},
        "ResourceConfig": {
            "InstanceType": instance_type,
            "InstanceCount": 1,
            "VolumeSizeInGB": 30,
            "VolumeKmsKeyId": kms_key_id,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime_seconds},
        "HyperParameters": dict(hyperparameters or {}),
        "EnableNetworkIsolation": True,
        "EnableInterContainerTrafficEncryption": True,
        "Tags": [
            {"Key": "dataset", "Value": "features"},
            {"Key": "as_of_date", "Value": channel.prefix.split("=")[1][:10]},
        ],
    }


def create_training_job(sagemaker: Any, request: dict[str, Any]) -> str:
    """Create the job; its ARN."""
    return str(sagemaker.create_training_job(**request)["TrainingJobArn"])


# --- what the command line checks before anything is sent (`taglake ml channel|train`) -----------------------------

_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", re.ASCII)
_KMS_KEY = re.compile(
    r"(arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/[A-Za-z0-9/_-]+|alias/[A-Za-z0-9/_-]+|[0-9a-f-]{36})", re.ASCII
)
_JOB_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", re.ASCII)
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}", re.ASCII)
_IMAGE = re.compile(
    r"\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[a-z0-9._/-]+(:[\w.-]+|@sha256:[0-9a-f]{64})", re.ASCII
)
_S3_URI = re.compile(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[\w!.*'()/=-]*)?", re.ASCII)
_RELATION = re.compile(r"[a-z_][a-z0-9_]{0,126}", re.ASCII)
_CHANNEL = re.compile(r"[A-Za-z0-9_-]{1,64}", re.ASCII)
_INSTANCE = re.compile(r"ml\.[a-z0-9]+\.[a-z0-9]+", re.ASCII)


def check_channel(name: str) -> None:
    if not _CHANNEL.fullmatch(name or ""):
        raise ChannelError("--channel: a channel name (1-64 letters, digits, _ and -)")


def check_instance_type(instance_type: str) -> None:
    if not _INSTANCE.fullmatch(instance_type or ""):
        raise ChannelError("--instance-type: a SageMaker training instance type (ml.<family>.<size>)")


def check_bucket(bucket: str) -> None:
    if not _BUCKET.fullmatch(bucket or ""):
        raise ChannelError("--bucket: an S3 bucket name (3-63 lowercase letters, digits, dots, dashes)")


def check_kms_key(key: str) -> None:
    if not _KMS_KEY.fullmatch(key or ""):
        raise ChannelError("--kms-key: a KMS key ARN, key id or alias/<name> (the consumption key)")


def check_training_args(
    *, job_name: str, image_uri: str, role_arn: str, output_uri: str | None, max_runtime_seconds: int
) -> dict[str, object]:
    """The training job's arguments, each checked (an error names the argument, never its value)."""
    if not _JOB_NAME.fullmatch(job_name or ""):
        raise ChannelError("--job-name: 1-63 letters, digits and dashes, starting with a letter or digit")
    if not _IMAGE.fullmatch(image_uri or ""):
        raise ChannelError("--image: an ECR image URI (<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>)")
    if not _ROLE_ARN.fullmatch(role_arn or ""):
        raise ChannelError("--role-arn: an IAM role ARN (arn:aws:iam::<account>:role/<name>)")
    if output_uri is not None and not _S3_URI.fullmatch(output_uri):
        raise ChannelError("--output-uri: an s3://<bucket>/<prefix>/ URI")
    if not 60 <= max_runtime_seconds <= 28 * 24 * 3600:
        raise ChannelError("--max-runtime: seconds from 60 to 2419200 (28 days)")
    return {
        "job_name": job_name,
        "image_uri": image_uri,
        "role_arn": role_arn,
        "output_uri": output_uri,
        "max_runtime_seconds": max_runtime_seconds,
    }


def check_relation(relation: str) -> None:
    if not _RELATION.fullmatch(relation or ""):
        raise ChannelError("--relation: a relation name (lowercase letters, digits, _)")


def extract_files(extracts: Path, relation: str, as_of: dt.date | None) -> tuple[str, list[Path]]:
    """The as-of date and the Parquet files of a relation's extract under `taglake ml export --out` (its latest
    as-of date unless one is given)."""
    check_relation(relation)
    if not extracts.is_dir():
        raise ChannelError(f"{extracts}: no such folder (--extracts); run taglake ml export --out there first")
    folders = sorted(extracts.glob(f"extracts/*/{relation}/as_of_date=*"))
    if as_of is not None:
        folders = [f for f in folders if f.name == f"as_of_date={as_of.isoformat()}"]
    if not folders:
        raise ChannelError(
            f"{extracts}: no extract of {relation}{' on --as-of' if as_of else ''} (--extracts, --relation); "
            "run taglake ml export"
        )
    folder = folders[-1]
    files = sorted(folder.glob("*.parquet"))
    if not files:
        raise ChannelError(f"{folder}: no Parquet file; run taglake ml export again")
    return folder.name.split("=", 1)[1], files


def channel_from_s3(s3: object, bucket: str, relation: str, as_of: str, name: str = "train") -> Channel:
    """A channel `write_channel` wrote, read back from its manifest.json (what `taglake ml train` trains on)."""
    prefix = channel_prefix(relation, as_of)
    doc = read_channel_manifest(s3, bucket, prefix)
    if doc.get("channel") != name or doc.get("relation") != relation:
        raise ChannelError(f"s3://{bucket}/{prefix}manifest.json: not the channel asked for (--channel, --relation)")
    objects = tuple(ChannelObject(**o) for o in doc["objects"])
    return Channel(bucket=bucket, prefix=prefix, name=name, objects=objects, columns=tuple(doc["columns"]))


@contextmanager
def aws_errors(arguments: str) -> Iterator[None]:
    """An AWS refusal as one line naming the arguments to check and AWS's error code (never its message, which
    may quote a value)."""
    from botocore.exceptions import ClientError

    try:
        yield
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", "refused"))
        code = code if re.fullmatch(r"[A-Za-z.]{1,64}", code) else "refused"
        raise ChannelError(f"{arguments}: AWS refused the request ({code}); check them") from None
