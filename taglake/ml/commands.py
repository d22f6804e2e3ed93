"""The machine-learning commands: `taglake ml export`, `taglake ml scores-return` (docs/ml.md)."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from taglake.core.cli_args import Subparsers
from taglake.core.project import Project
from taglake.core.text_tables import format_table
from taglake.ml import sagemaker


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError("a date as YYYY-MM-DD") from None


def _timestamp(text: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError("a timestamp as YYYY-MM-DDTHH:MM[:SS], UTC") from None


def register(sub: Subparsers) -> None:
    p = sub.add_parser(
        "ml",
        help="the model consumers: Parquet extracts of the masked marts for EMR (Spark) and SageMaker",
        description="The machine-learning consumers (docs/ml.md): the consumption marts a role reads, as Parquet "
        "in the layout of the consumption bucket's extracts/, which the PySpark job (jobs/spark/) and the SageMaker "
        "training channel read (only masked marts: nothing raw, nothing from the vault); and the system account's "
        "return of a batch transform's scores into the score source.",
    )
    ml_sub = p.add_subparsers(dest="ml_command", required=True, metavar="COMMAND")
    e = ml_sub.add_parser(
        "export",
        help="write the marts of a role's datasets (default: the data scientists' features) as Parquet extracts",
        description="Write every consumption-layer mart whose dataset the role reads (vars.access; default "
        "data_scientist: the training-feature table and the monthly customer metrics) from the local build to "
        "OUT/extracts/<dataset>/<relation>/as_of_date=<date>/part-00000.parquet, the layout of the consumption "
        "bucket. Only the columns Lake Formation lets the role read: each column's LF-tags (lake_formation_plan()) "
        "against the role's tag-policy grants; the others are withheld and named. Needs a build (taglake build) and "
        "its target/manifest.json.",
    )
    e.add_argument("--out", type=Path, required=True, help="the folder to write extracts/ under (a local root)")
    e.add_argument("--role", default="data_scientist", help="whose datasets to export (default: data_scientist)")
    e.add_argument("--as-of", type=_date, default=None, help="the as-of date (default: the build's as_of_date)")
    e.set_defaults(func=cmd_export)
    r = ml_sub.add_parser(
        "scores-return",
        help="the system account's act: a batch transform's scores back into the score source (ml.model_scores)",
        description="Read a batch transform's output (lines `customer_token,score`: docs/ml.md § Scores), map each "
        "token to the national ID it was made from (the raw zone's IDs tokenised with the key) and write the "
        "scoring run as raw/ml/model_scores/year=/month=/day=/model_scores_<YYYYMMDD>.parquet of the lake, which "
        "the next build reads and tokenises again. Only the system account: --as-system and the system identity "
        "(TAGLAKE_SYSTEM_IDENTITY), else refused before anything is read. Errors name the file and line, never a "
        "value.",
    )
    r.add_argument("--transform-output", type=Path, required=True, help="the batch transform's .out file")
    r.add_argument("--model-name", required=True, help="one of the score source's declared model names")
    r.add_argument("--model-version", required=True, help="major.minor.patch")
    r.add_argument("--scored-at", type=_timestamp, required=True, help="when the batch scored, UTC (ISO 8601)")
    r.add_argument("--as-system", action="store_true", help="required: the explicit act of the system account")
    r.set_defaults(func=cmd_scores_return)
    c = ml_sub.add_parser(
        "channel",
        help="upload an exported extract (Parquet) and its manifests to the SageMaker channel in S3 (SSE-KMS)",
        description="Upload the extract `taglake ml export` wrote (OUT/extracts/<dataset>/<relation>/as_of_date="
        "<date>/*.parquet) to s3://BUCKET/sagemaker/<relation>/as_of_date=<date>/<channel>/, encrypted with the KMS "
        "key, then SageMaker's ManifestFile (<channel>.manifest) and taglake's manifest.json (columns, rows, each "
        "object's SHA-256). AWS credentials and region as boto3 finds them (the data scientists' role).",
    )
    c.add_argument("--extracts", type=Path, required=True, help="the folder `taglake ml export --out` wrote to")
    c.add_argument("--bucket", required=True, help="the consumption bucket (taglake-<env>-<account>-consumption)")
    c.add_argument("--kms-key", required=True, help="the consumption key: its ARN, id or alias/…")
    c.add_argument(
        "--relation", default=sagemaker.TRAINING_RELATION, help="the extract's relation (default: %(default)s)"
    )
    c.add_argument("--as-of", type=_date, default=None, help="the extract's as-of date (default: its latest)")
    c.add_argument("--channel", default="train", help="the channel's name (default: train)")
    c.add_argument("--region", default=None, help="the AWS region (default: boto3's, e.g. AWS_REGION)")
    c.set_defaults(func=cmd_channel)
    t = ml_sub.add_parser(
        "train",
        help="create the SageMaker training job over a channel (network isolation, KMS, the given role)",
        description="Create a training job reading the channel `taglake ml channel` wrote (through its ManifestFile) "
        "with the container image and execution role given: network isolation on, no VPC, inter-container traffic "
        "encrypted, output and volume encrypted with the KMS key, a stopping condition (docs/ml.md). Prints the "
        "job's ARN.",
    )
    t.add_argument("--job-name", required=True, help="the training job's name (letters, digits, -; 1-63)")
    t.add_argument("--bucket", required=True, help="the bucket holding the channel (and the output by default)")
    t.add_argument(
        "--relation", default=sagemaker.TRAINING_RELATION, help="the channel's relation (default: %(default)s)"
    )
    t.add_argument("--as-of", type=_date, required=True, help="the channel's as-of date")
    t.add_argument("--channel", default="train", help="the channel's name (default: train)")
    t.add_argument("--image", required=True, help="the training image's ECR URI")
    t.add_argument("--role-arn", required=True, help="the SageMaker execution role's ARN")
    t.add_argument("--kms-key", required=True, help="the KMS key for the output and the training volume")
    t.add_argument("--output-uri", default=None, help="s3://… for the model (default: s3://BUCKET/sagemaker/models/)")
    t.add_argument("--instance-type", default="ml.m5.xlarge", help="the instance type (default: %(default)s)")
    t.add_argument("--max-runtime", type=int, default=3600, help="seconds before the job is stopped (default 3600)")
    t.add_argument("--region", default=None, help="the AWS region (default: boto3's, e.g. AWS_REGION)")
    t.set_defaults(func=cmd_train)


def cmd_export(ns: argparse.Namespace, project: Project, target: str) -> int:
    from taglake.ml import export
    from taglake.privacy.access_policy import load_access

    relations = export.role_relations(project.target_path / "manifest.json", ns.role, project.root)
    as_of = ns.as_of or export.build_as_of(project.duckdb_path, relations)
    columns = export.readable_columns(
        load_access(project.root), ns.role, export.lake_formation_plan(project), relations
    )
    done = export.export_relations(project.duckdb_path, relations, ns.out, as_of, columns)
    rows = [[d.relation.name, str(d.rows), ", ".join(d.withheld) or "-", str(d.path.relative_to(ns.out))] for d in done]
    print(format_table(["relation", "rows", "columns withheld (Lake Formation)", "file"], rows))
    return 0


def cmd_scores_return(ns: argparse.Namespace, project: Project, target: str) -> int:
    from taglake.ml import scores

    path, rows = scores.return_scores(
        transform_output=ns.transform_output,
        lake_dir=project.lake_dir,
        key_file=project.key_file,
        model_name=ns.model_name,
        model_version=ns.model_version,
        scored_at=ns.scored_at,
        as_system=ns.as_system,
    )
    print(f"scores-return: {rows:,} scores written to {path.relative_to(project.lake_dir)} (the next build reads them)")
    return 0


def cmd_channel(ns: argparse.Namespace, project: Project, target: str) -> int:
    import boto3

    as_of, files = sagemaker.extract_files(ns.extracts, ns.relation, ns.as_of)
    sagemaker.check_channel(ns.channel)
    sagemaker.check_bucket(ns.bucket)
    sagemaker.check_kms_key(ns.kms_key)
    s3 = boto3.client("s3", region_name=ns.region)
    with sagemaker.aws_errors("--bucket or --kms-key"):
        channel = sagemaker.write_channel(
            s3, bucket=ns.bucket, relation=ns.relation, as_of=as_of, files=files, kms_key_id=ns.kms_key,
            name=ns.channel,
        )  # fmt: skip
    print(f"channel {channel.name}: {len(channel.objects)} object(s), {channel.rows:,} rows at {channel.data_uri}")
    print(f"manifest: {channel.manifest_uri}")
    return 0


def cmd_train(ns: argparse.Namespace, project: Project, target: str) -> int:
    import boto3

    sagemaker.check_bucket(ns.bucket)
    sagemaker.check_kms_key(ns.kms_key)
    sagemaker.check_channel(ns.channel)
    sagemaker.check_instance_type(ns.instance_type)
    request_args = sagemaker.check_training_args(
        job_name=ns.job_name, image_uri=ns.image, role_arn=ns.role_arn, output_uri=ns.output_uri,
        max_runtime_seconds=ns.max_runtime,
    )  # fmt: skip
    s3 = boto3.client("s3", region_name=ns.region)
    sagemaker.check_relation(ns.relation)
    with sagemaker.aws_errors("--bucket, --relation, --as-of or --channel"):
        channel = sagemaker.channel_from_s3(s3, ns.bucket, ns.relation, ns.as_of.isoformat(), ns.channel)
    request = sagemaker.training_job_request(
        channel=channel, kms_key_id=ns.kms_key, instance_type=ns.instance_type,
        output_uri=request_args.pop("output_uri") or f"s3://{ns.bucket}/{sagemaker.SAGEMAKER_PREFIX}/models/",
        **request_args,
    )  # fmt: skip
    with sagemaker.aws_errors("--job-name, --image, --role-arn, --kms-key or --instance-type"):
        arn = sagemaker.create_training_job(boto3.client("sagemaker", region_name=ns.region), request)
    print(f"training job {ns.job_name} created: {arn} (network isolation, KMS, reading {channel.manifest_uri})")
    return 0
