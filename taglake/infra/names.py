"""The names every CloudFormation stack in infra/ agrees on (docs/deployment.md § The AWS estate).

Every physical name is derived from the stack parameter `Environment` and the account, so a stack names another
stack's bucket, role or workgroup without importing it; KMS keys and the alert topic (whose ARNs are not derived
from a name) are exported by the foundation stack and imported by name (`taglake-<env>-<export>`). The hand-written
stacks (infra/stacks/foundation.yaml, audit.yaml, ingest.yaml, mwaa.yaml) use the same patterns; the generated ones
(roles.yaml, catalog.yaml, lake-formation.yaml, retrieval.yaml, monitoring.yaml) take them from here, and
tests_py/infra/test_infra_render.py checks that both agree.
"""

from __future__ import annotations

from typing import Any

# The stacks in deployment order: (name, generated?) — docs/deployment.md walks them in this order.
STACKS = (
    ("foundation", False),
    ("roles", True),
    ("catalog", True),
    ("lake-formation", True),
    ("ingest", False),
    ("retrieval", True),
    ("audit", False),
    ("monitoring", True),
    ("mwaa", False),
)
GENERATED = tuple(name for name, generated in STACKS if generated)

# The raw zone's key prefix in the raw bucket: the Glue tables' locations and the ingestion Lambda's
# TAGLAKE_RAW_PREFIX (`taglake catalog --prefix` defaults to the same).
RAW_PREFIX = "raw"
# Where the masking key's Athena table reads (restricted bucket) — the key folder of docs/privacy.md § 3.
KEYS_PREFIX = "restricted_keys/masking_keys"
# dbt's data folders in the curated bucket (TAGLAKE_ATHENA_S3_DATA_DIR, TAGLAKE_ATHENA_SYSTEM_S3_DATA_DIR).
PIPELINE_DATA_PREFIX = "pipeline"
SYSTEM_DATA_PREFIX = "system"
# Athena query results per workgroup in the consumption bucket: results/<role>/.
RESULTS_PREFIX = "results"

# Buckets: logical suffix → what it holds.
BUCKETS = {
    "raw": "what source systems land and the ingestion API writes (raw/<source>/<table>/year=/month=/day=/)",
    "curated": "the tables dbt builds (pipeline/ for staging to snapshots, system/ for the vault)",
    "consumption": "Athena query results per workgroup (results/<role>/) and extracts",
    "restricted": "the masking key's folder (restricted_keys/masking_keys/): key material only",
    "mwaa": "the MWAA bucket (make mwaa-bundle)",
    "logs": "S3 server access logs of the other buckets",
    "trail": "CloudTrail's log files",
}
# KMS keys exported by the foundation stack: logical name → what it encrypts.
KEYS = {
    "RawKey": "the raw bucket",
    "CuratedKey": "the curated bucket",
    "ConsumptionKey": "the consumption bucket (Athena results)",
    "RestrictedKey": "the restricted bucket and the masking-key secret",
    "OpsKey": "SNS, CloudTrail, CloudWatch Logs, the idempotency table, MWAA",
}
MASKING_SECRET = "taglake/${Environment}/masking-key"


def sub(text: str) -> dict[str, Any]:
    return {"Fn::Sub": text}


def bucket_name(kind: str) -> str:
    """The Fn::Sub text of a bucket's name: taglake-<env>-<account>-<kind>."""
    if kind not in BUCKETS:
        raise ValueError(f"no bucket {kind}")
    return "taglake-${Environment}-${AWS::AccountId}-" + kind


def bucket_arn(kind: str, path: str = "") -> dict[str, Any]:
    return sub("arn:${AWS::Partition}:s3:::" + bucket_name(kind) + (f"/{path}" if path else ""))


def role_name(role: str) -> str:
    """The Fn::Sub text of an IAM role's name: taglake-<env>-<role, dashes>."""
    return "taglake-${Environment}-" + role.replace("_", "-")


def role_arn(role: str) -> dict[str, Any]:
    return sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:role/" + role_name(role))


def workgroup_name(role: str) -> str:
    return "taglake-${Environment}-" + role.replace("_", "-")


def export(name: str) -> dict[str, Any]:
    """Fn::ImportValue of a foundation export (KMS key ARNs, the alert topic)."""
    return {"Fn::ImportValue": sub("taglake-${Environment}-" + name)}


ENVIRONMENT_PARAMETER = {
    "Type": "String",
    "AllowedPattern": "^[a-z][a-z0-9]{1,9}$",
    "Description": "The environment (dev, staging, prod): part of every name",
}
