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

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from taglake.core.errors import TaglakeError

SAGEMAKER_PREFIX = "sagemaker"
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
