"""The IAM roles and Athena workgroups of infra/stacks/roles.yaml, generated from the access declaration.

One role per role of `vars.access` (analyst DA, data_scientist DS, application AP, data_manager DM, and the service
identities pipeline and system) plus the data engineer (DE), who operates the estate and reads no data. Least
privilege, from the declaration:

- a person-facing role runs queries in its own workgroup only, reads the Glue metadata of the consumption
  databases (and, for a role that `describe`s layers, of those layers' databases), gets data only through Lake
  Formation (`lakeformation:GetDataAccess`: Lake Formation decides, column by column) and reads and writes only
  its own result folder; it has no S3 or KMS grant on the raw, curated or restricted buckets;
- a service identity reads the S3 folders, Glue databases and KMS keys of the layers it `reads` and `builds`,
  writes those it builds, and only the system role reads the masking-key secret (and the vault's data folder);
- no statement grants `*` or `<service>:*`.
"""

from __future__ import annotations

from typing import Any

from taglake.infra import names
from taglake.infra.template import logical_id, template
from taglake.privacy.access_policy import AccessPolicy, Role

# The data engineer builds and operates the pipelines and never sees data: no role of the access declaration.
DATA_ENGINEER = "data_engineer"
DATA_ENGINEER_CODE = "DE"

GLUE_READ = [
    "glue:GetDatabase",
    "glue:GetDatabases",
    "glue:GetTable",
    "glue:GetTables",
    "glue:GetPartition",
    "glue:GetPartitions",
]
GLUE_WRITE = [
    "glue:CreateTable",
    "glue:UpdateTable",
    "glue:DeleteTable",
    "glue:BatchCreatePartition",
    "glue:CreatePartition",
    "glue:UpdatePartition",
    "glue:DeletePartition",
    "glue:BatchDeletePartition",
    "glue:BatchGetPartition",
    "glue:CreateDatabase",
    "glue:UpdateDatabase",
    "glue:GetTableVersions",
]
S3_READ = ["s3:GetObject", "s3:GetObjectVersion"]
S3_WRITE = ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
ATHENA = [
    "athena:StartQueryExecution",
    "athena:GetQueryExecution",
    "athena:GetQueryResults",
    "athena:StopQueryExecution",
    "athena:GetWorkGroup",
    "athena:ListQueryExecutions",
    "athena:BatchGetQueryExecution",
]
KMS_USE = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]


def _statement(sid: str, actions: list[str], resources: list[Any], **condition: Any) -> dict[str, Any]:
    st: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Action": sorted(set(actions)), "Resource": resources}
    if condition:
        st["Condition"] = condition
    return st


def _glue_resources(databases: list[str]) -> list[Any]:
    out: list[Any] = [{"Fn::Sub": "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:catalog"}]
    for db in databases:
        out.append({"Fn::Sub": f"arn:${{AWS::Partition}}:glue:${{AWS::Region}}:${{AWS::AccountId}}:database/{db}"})
        out.append({"Fn::Sub": f"arn:${{AWS::Partition}}:glue:${{AWS::Region}}:${{AWS::AccountId}}:table/{db}/*"})
    return out


def layer_databases(
    layers: tuple[str, ...] | list[str], raw_databases: list[str], keys_databases: list[str]
) -> list[str]:
    """The Glue databases (Fn::Sub text) of layers: raw_* for raw, restricted_keys for keys, else
    ${AthenaSchema}_<layer>."""
    out: list[str] = []
    for layer in layers:
        if layer == "raw":
            out.extend(raw_databases)
        elif layer == "keys":
            out.extend(keys_databases)
        else:
            out.append("${AthenaSchema}_" + layer)
    return out


def _workgroup_arn(role: str) -> dict[str, Any]:
    name = names.workgroup_name(role)
    return {"Fn::Sub": "arn:${AWS::Partition}:athena:${AWS::Region}:${AWS::AccountId}:workgroup/" + name}


def _results(role: str) -> list[dict[str, Any]]:
    folder = f"{names.RESULTS_PREFIX}/{role.replace('_', '-')}"
    return [
        _statement("OwnResults", [*S3_READ, *S3_WRITE], [names.bucket_arn("consumption", folder + "/*")]),
        _statement(
            "ListOwnResults",
            ["s3:ListBucket", "s3:GetBucketLocation"],
            [names.bucket_arn("consumption")],
            StringLike={"s3:prefix": [folder + "/*", folder + "/"]},
        ),
        _statement("ResultsKey", KMS_USE, [names.export("ConsumptionKeyArn")]),
    ]


def person_statements(policy: AccessPolicy, role: Role, raw_dbs: list[str], keys_dbs: list[str]) -> list[dict]:
    describe = layer_databases(role.describe, raw_dbs, keys_dbs) if role.describe else []
    consumption = layer_databases(policy.consumption_layers, raw_dbs, keys_dbs)
    databases = list(dict.fromkeys([*consumption, *describe]))
    statements = [
        _statement("Queries", ATHENA, [_workgroup_arn(role.name)]),
        _statement("CatalogMetadata", GLUE_READ, _glue_resources(databases)),
        # GetDataAccess has no resource-level permission: Lake Formation decides what it vends, per column.
        _statement("DataThroughLakeFormation", ["lakeformation:GetDataAccess"], ["*"]),
        *_results(role.name),
    ]
    if role.describe:
        statements.append(
            _statement(
                "LakeFormationMetadata",
                [
                    "lakeformation:GetLFTag",
                    "lakeformation:ListLFTags",
                    "lakeformation:GetResourceLFTags",
                    "lakeformation:ListPermissions",
                    "lakeformation:SearchTablesByLFTags",
                    "lakeformation:SearchDatabasesByLFTags",
                ],
                ["*"],
            )
        )
    return statements


def _s3_folders(role: Role) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(bucket, folder) the service role reads, and those it writes."""
    reads: list[tuple[str, str]] = []
    writes: list[tuple[str, str]] = [("curated", names.PIPELINE_DATA_PREFIX)]
    layers = set(role.reads) | set(role.builds)
    if "raw" in layers:
        reads.append(("raw", names.RAW_PREFIX))
    if "keys" in layers:
        reads.append(("restricted", names.KEYS_PREFIX))
    if "vault" in role.builds:
        writes.append(("curated", names.SYSTEM_DATA_PREFIX))
    writes.append(("consumption", f"{names.RESULTS_PREFIX}/{role.name.replace('_', '-')}"))
    return reads, writes


BUCKET_KEYS = {
    "raw": "RawKeyArn",
    "curated": "CuratedKeyArn",
    "consumption": "ConsumptionKeyArn",
    "restricted": "RestrictedKeyArn",
}


def service_statements(role: Role, raw_dbs: list[str], keys_dbs: list[str], namespace: str) -> list[dict]:
    reads, writes = _s3_folders(role)
    read_dbs = layer_databases([x for x in role.reads if x not in role.builds], raw_dbs, keys_dbs)
    build_dbs = layer_databases(role.builds, raw_dbs, keys_dbs)
    buckets = sorted({b for b, _ in reads + writes})
    statements = [
        _statement("Queries", ATHENA, [_workgroup_arn(role.name)]),
        _statement("ReadLayers", GLUE_READ, _glue_resources(read_dbs + build_dbs)),
        _statement("BuildLayers", GLUE_WRITE, _glue_resources(build_dbs)),
        _statement("ReadFolders", S3_READ, [names.bucket_arn(b, f + "/*") for b, f in reads + writes]),
        _statement("WriteFolders", S3_WRITE, [names.bucket_arn(b, f + "/*") for b, f in writes]),
        _statement(
            "ListFolders",
            ["s3:ListBucket", "s3:GetBucketLocation"],
            [names.bucket_arn(b) for b in buckets],
            StringLike={"s3:prefix": sorted({f + suffix for _, f in reads + writes for suffix in ("/", "/*")})},
        ),
        _statement("BucketKeys", [*KMS_USE, "kms:Encrypt"], [names.export(BUCKET_KEYS[b]) for b in buckets]),
        _statement(
            "LakeFormation",
            [
                "lakeformation:GetDataAccess",
                "lakeformation:AddLFTagsToResource",
                "lakeformation:RemoveLFTagsFromResource",
                "lakeformation:GetResourceLFTags",
                "lakeformation:ListLFTags",
                "lakeformation:GetLFTag",
            ],
            ["*"],
        ),
        _statement("RunMetrics", ["cloudwatch:PutMetricData"], ["*"], StringEquals={"cloudwatch:namespace": namespace}),
        _statement("Alerts", ["sns:Publish"], [names.export("AlertTopicArn")]),
        _statement("AlertsKey", ["kms:GenerateDataKey", "kms:Decrypt"], [names.export("OpsKeyArn")]),
    ]
    if "vault" in role.builds:
        statements.append(
            _statement(
                "MaskingKeySecret",
                ["secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue", "secretsmanager:DescribeSecret"],
                [
                    {
                        "Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:"
                        + names.MASKING_SECRET
                        + "-*"
                    }
                ],
            )
        )
        statements.append(_statement("MaskingKeySecretKey", KMS_USE, [names.export("RestrictedKeyArn")]))
    return statements


MWAA_ENV_ARN = "arn:${AWS::Partition}:airflow:${AWS::Region}:${AWS::AccountId}:environment/taglake-${Environment}"


def mwaa_statements() -> list[dict]:
    """What MWAA itself needs of its execution role (the pipeline role runs the daily DAG)."""
    logs = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:airflow-taglake-${Environment}-*"
    return [
        _statement("AirflowMetrics", ["airflow:PublishMetrics"], [{"Fn::Sub": MWAA_ENV_ARN}]),
        _statement(
            "MwaaBucket",
            ["s3:GetObject", "s3:GetObjectVersion", "s3:GetBucketLocation", "s3:ListBucket", "s3:GetBucketVersioning"],
            [names.bucket_arn("mwaa"), names.bucket_arn("mwaa", "*")],
        ),
        _statement("MwaaKey", [*KMS_USE, "kms:Encrypt"], [names.export("OpsKeyArn")]),
        _statement(
            "AirflowLogs",
            [
                "logs:CreateLogStream",
                "logs:CreateLogGroup",
                "logs:PutLogEvents",
                "logs:GetLogEvents",
                "logs:GetLogRecord",
                "logs:GetLogGroupFields",
                "logs:GetQueryResults",
                "logs:DescribeLogGroups",
            ],
            [{"Fn::Sub": logs}],
        ),
        _statement(
            "CeleryQueue",
            [
                "sqs:ChangeMessageVisibility",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "sqs:GetQueueUrl",
                "sqs:ReceiveMessage",
                "sqs:SendMessage",
            ],
            [{"Fn::Sub": "arn:${AWS::Partition}:sqs:${AWS::Region}:*:airflow-celery-*"}],
        ),
    ]


def engineer_statements() -> list[dict]:
    """The data engineer: the run's state (alarms, dashboards, metrics, stacks, the Airflow UI); no data."""
    return [
        _statement(
            "RunState",
            [
                "cloudwatch:GetMetricData",
                "cloudwatch:ListMetrics",
                "cloudwatch:DescribeAlarms",
                "cloudwatch:GetDashboard",
                "cloudwatch:ListDashboards",
            ],
            ["*"],
        ),
        _statement(
            "Stacks",
            [
                "cloudformation:DescribeStacks",
                "cloudformation:DescribeStackEvents",
                "cloudformation:DescribeStackResources",
                "cloudformation:GetTemplate",
            ],
            [
                {
                    "Fn::Sub": "arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:stack/"
                    "taglake-${Environment}-*/*"
                }
            ],
        ),
        _statement("AirflowUi", ["airflow:CreateWebLoginToken", "airflow:GetEnvironment"], [{"Fn::Sub": MWAA_ENV_ARN}]),
    ]


# Lake Formation's role for the locations it governs (lake-formation.yaml registers raw, curated and restricted with
# it): it reads and writes them for the principals Lake Formation allows, and is assumed by Lake Formation only.
LAKE_FORMATION_DATA_ACCESS = "lake_formation_data_access"
LF_BUCKETS = {"raw": False, "curated": True, "restricted": False}  # bucket → written through Lake Formation


def lake_formation_statements() -> list[dict]:
    buckets = sorted(LF_BUCKETS)
    return [
        _statement("ReadLocations", S3_READ, [names.bucket_arn(b, "*") for b in buckets]),
        _statement("WriteLocations", S3_WRITE, [names.bucket_arn(b, "*") for b, w in LF_BUCKETS.items() if w]),
        _statement("ListLocations", ["s3:ListBucket", "s3:GetBucketLocation"], [names.bucket_arn(b) for b in buckets]),
        _statement("LocationKeys", [*KMS_USE, "kms:Encrypt"], [names.export(BUCKET_KEYS[b]) for b in buckets]),
    ]


def _trust(role: str) -> dict[str, Any]:
    if role == LAKE_FORMATION_DATA_ACCESS:
        return {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "lakeformation.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
    if role == "pipeline":
        principal: dict[str, Any] = {"Service": ["airflow.amazonaws.com", "airflow-env.amazonaws.com"]}
        return {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}],
        }
    if role == "system":
        return {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": {"Ref": "SystemRunnerArn"}}, "Action": "sts:AssumeRole"}
            ],
        }
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}},
                "Action": "sts:AssumeRole",
                "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
            }
        ],
    }


def _workgroup(role: str, person: bool) -> dict[str, Any]:
    cutoff = "PersonBytesScannedCutoff" if person else "ServiceBytesScannedCutoff"
    folder = f"{names.RESULTS_PREFIX}/{role.replace('_', '-')}/"
    return {
        "Type": "AWS::Athena::WorkGroup",
        "Properties": {
            "Name": {"Fn::Sub": names.workgroup_name(role)},
            "Description": f"taglake {role}: enforced settings, encrypted results, a per-query scan cutoff",
            "State": "ENABLED",
            "RecursiveDeleteOption": False,
            "WorkGroupConfiguration": {
                "EnforceWorkGroupConfiguration": True,
                "PublishCloudWatchMetricsEnabled": True,
                "BytesScannedCutoffPerQuery": {"Ref": cutoff},
                "RequesterPaysEnabled": False,
                "EngineVersion": {"SelectedEngineVersion": "Athena engine version 3"},
                "ResultConfiguration": {
                    "OutputLocation": {"Fn::Sub": "s3://" + names.bucket_name("consumption") + "/" + folder},
                    "EncryptionConfiguration": {
                        "EncryptionOption": "SSE_KMS",
                        "KmsKey": names.export("ConsumptionKeyArn"),
                    },
                    "ExpectedBucketOwner": {"Ref": "AWS::AccountId"},
                },
            },
        },
    }


PARAMETERS = {
    "Environment": names.ENVIRONMENT_PARAMETER,
    "AthenaSchema": {
        "Type": "String",
        "Default": "taglake",
        "AllowedPattern": "^[a-z][a-z0-9_]{0,30}$",
        "Description": "TAGLAKE_ATHENA_SCHEMA: prefix of the Glue databases dbt writes",
    },
    "SystemRunnerArn": {
        "Type": "String",
        "AllowedPattern": "^arn:aws[a-z-]*:iam::\\d{12}:(role|user)/.+$",
        "Description": "The IAM role (or user) of the system account's runner: the only principal "
        "that may assume the system role",
    },
    "PersonBytesScannedCutoff": {
        "Type": "Number",
        "Default": 10737418240,
        "MinValue": 10485760,
        "Description": "Per-query scan limit of the people's workgroups (bytes)",
    },
    "ServiceBytesScannedCutoff": {
        "Type": "Number",
        "Default": 1099511627776,
        "MinValue": 10485760,
        "Description": "Per-query scan limit of the pipeline's and system's workgroups",
    },
}


def role_resource(role: str, code: str, statements: list[dict]) -> dict[str, Any]:
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "RoleName": {"Fn::Sub": names.role_name(role)},
            "Description": f"taglake {code}: {role}",
            "MaxSessionDuration": 3600 if role not in ("pipeline", "system") else 43200,
            "AssumeRolePolicyDocument": _trust(role),
            "Policies": [
                {"PolicyName": "least-privilege", "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}
            ],
            "Tags": [{"Key": "taglake:role-code", "Value": code}],
        },
    }


def render_roles(policy: AccessPolicy, raw_dbs: list[str], keys_dbs: list[str], metrics_namespace: str) -> dict:
    resources: dict[str, Any] = {}
    outputs: dict[str, Any] = {}
    for role in policy.roles.values():
        if role.is_service:
            statements = service_statements(role, raw_dbs, keys_dbs, metrics_namespace)
            if role.name == "pipeline":
                statements += mwaa_statements()
        else:
            statements = person_statements(policy, role, raw_dbs, keys_dbs)
        rid = logical_id(role.name, "role")
        resources[rid] = role_resource(role.name, role.code, statements)
        resources[logical_id(role.name, "workgroup")] = _workgroup(role.name, not role.is_service)
        outputs[rid + "Arn"] = {
            "Value": {"Fn::GetAtt": [rid, "Arn"]},
            "Export": {"Name": {"Fn::Sub": "taglake-${Environment}-" + rid + "Arn"}},
        }
    rid = logical_id(DATA_ENGINEER, "role")
    resources[rid] = role_resource(DATA_ENGINEER, DATA_ENGINEER_CODE, engineer_statements())
    rid = logical_id(LAKE_FORMATION_DATA_ACCESS, "role")
    resources[rid] = role_resource(LAKE_FORMATION_DATA_ACCESS, "system", lake_formation_statements())
    return template(
        "taglake IAM roles (DE, DA, DS, DM, AP, pipeline, system) and Athena workgroups, from vars.access",
        PARAMETERS,
        resources,
        Outputs=outputs,
    )
