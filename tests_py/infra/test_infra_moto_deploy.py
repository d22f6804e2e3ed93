"""The stacks deployed into moto (in-process mock_aws CloudFormation), in the documented order with the dev
parameters, and read back through the service APIs — never CREATE_COMPLETE alone. What moto's CloudFormation
creates (KMS keys and aliases, buckets with their encryption, IAM roles and policies, the SNS topic, the DynamoDB
table, the Lambda, log groups, the REST API's resources and method, the dashboard, the security group) is read back
as deployed. What it skips or half-applies (bucket versioning, public-access block, lifecycle, policy, logging; the
table's TTL and point-in-time recovery; the secret; Glue; Lake Formation; Athena workgroups; the API stage, key and
usage plan; CloudTrail; alarms; the budget; MWAA) is created through its service API from the template's
properties, resolved as CloudFormation would, and read back — so the properties are valid API input and say what
the tests expect."""

from __future__ import annotations

import ast
import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from infra_stacks import ACCOUNT, ENV, REGION, Resolver, load, parameters, params_file, resources
from moto import mock_aws

from taglake.aws.glue_catalog import plan_catalog, sync_catalog
from taglake.aws.lake_formation import apply_lake_formation, plan_lake_formation
from taglake.core.sources import catalog_tables
from taglake.infra import names
from taglake.privacy.access_policy import load_access

pytestmark = [
    pytest.mark.infra,
    # moto says so for every resource type its CloudFormation skips; those are tested through their APIs below
    pytest.mark.filterwarnings("ignore:Tried to parse:UserWarning"),
]

BUCKET_KEYS = {
    "raw": "RawKeyArn",
    "curated": "CuratedKeyArn",
    "consumption": "ConsumptionKeyArn",
    "restricted": "RestrictedKeyArn",
    "mwaa": "OpsKeyArn",
    "trail": "OpsKeyArn",
}


# What Fn::GetAtt <id>.Arn gives for a resource type, from its physical id (CloudFormation's documented values).
ARNS = {
    "AWS::S3::Bucket": "arn:aws:s3:::{}",
    "AWS::KMS::Key": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{{}}",
    "AWS::IAM::Role": f"arn:aws:iam::{ACCOUNT}:role/{{}}",
    # CloudFormation's is the group's ARN with ":*"; moto's GetAtt leaves that off, and it is moto that deployed
    "AWS::Logs::LogGroup": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{{}}",
    "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{{}}",
    "AWS::Lambda::Function": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{{}}",
}


def _json(value: Any) -> Any:
    """A policy document as moto returns it: decoded, JSON text, or (an inline policy its CloudFormation made)
    Python's repr of the document."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return ast.literal_eval(value)


@dataclass
class Estate:
    exports: dict[str, str]
    overrides: dict[str, dict[str, str]]

    def resolver(self, stack: str) -> Resolver:
        given = {**params_file(ENV, stack), **self.overrides.get(stack, {})}
        cf = boto3.client("cloudformation")
        summaries = cf.list_stack_resources(StackName=f"taglake-{ENV}-{stack}")["StackResourceSummaries"]
        physical = {r["LogicalResourceId"]: r.get("PhysicalResourceId", "") for r in summaries}
        attrs = {
            (r["LogicalResourceId"], "Arn"): ARNS[r["ResourceType"]].format(r.get("PhysicalResourceId", ""))
            for r in summaries
            if r["ResourceType"] in ARNS
        }
        return Resolver(parameters(load(stack), given), physical=physical, attrs=attrs, exports=self.exports)

    def export(self, name: str) -> str:
        return self.exports[f"taglake-{ENV}-{name}"]


@pytest.fixture(scope="module")
def estate() -> Iterator[Estate]:
    with pytest.MonkeyPatch.context() as mp:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
        }.items():
            mp.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
            mp.delenv(name, raising=False)
        with mock_aws():
            ec2 = boto3.client("ec2")
            vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
            subnets = [
                ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{az}")["Subnet"][
                    "SubnetId"
                ]
                for i, az in ((1, "a"), (2, "c"))
            ]
            overrides = {
                "ingest": {"LambdaCodeBucket": f"taglake-{ENV}-{ACCOUNT}-mwaa"},
                "retrieval": {"LambdaCodeBucket": f"taglake-{ENV}-{ACCOUNT}-mwaa"},  # the same package as ingest's
                "mwaa": {"VpcId": vpc, "PrivateSubnetIds": ",".join(subnets)},
                "roles": {"SystemRunnerArn": f"arn:aws:iam::{ACCOUNT}:role/bank-taglake-system-runner"},
                "lake-formation": {"LakeFormationAdminArn": f"arn:aws:iam::{ACCOUNT}:role/bank-lake-formation-admin"},
            }
            cf = boto3.client("cloudformation")
            for stack, _ in names.STACKS:
                if stack == "ingest":
                    buf = io.BytesIO()
                    with zipfile.ZipFile(buf, "w") as z:
                        z.writestr("taglake/ingest/app.py", "def handler(event, context):\n    return {}\n")
                    boto3.client("s3").put_object(
                        Bucket=overrides["ingest"]["LambdaCodeBucket"],
                        Key="lambda/taglake-ingest.zip",
                        Body=buf.getvalue(),
                    )
                given = {**params_file(ENV, stack), **overrides.get(stack, {})}
                cf.create_stack(
                    StackName=f"taglake-{ENV}-{stack}",
                    TemplateBody=(names_path(stack)).read_text(encoding="utf-8"),
                    Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in given.items()],
                    Capabilities=["CAPABILITY_NAMED_IAM"],
                )
                status = cf.describe_stacks(StackName=f"taglake-{ENV}-{stack}")["Stacks"][0]["StackStatus"]
                assert status == "CREATE_COMPLETE", (stack, status)
            exports = {e["Name"]: e["Value"] for e in cf.list_exports()["Exports"] if "Value" in e}
            yield Estate(exports, overrides)


def names_path(stack: str) -> Any:
    from infra_stacks import STACKS

    return STACKS / f"{stack}.yaml"


def _props(stack: str, rid: str, estate: Estate) -> dict[str, Any]:
    return estate.resolver(stack)(load(stack)["Resources"][rid]["Properties"])


# --- what moto's CloudFormation creates, read back -------------------------------------------------------------


def test_every_bucket_is_encrypted_by_default_with_its_zones_customer_key(estate: Estate) -> None:
    s3 = boto3.client("s3")
    for kind, export in BUCKET_KEYS.items():
        rule = s3.get_bucket_encryption(Bucket=f"taglake-{ENV}-{ACCOUNT}-{kind}")["ServerSideEncryptionConfiguration"]
        default = rule["Rules"][0]["ApplyServerSideEncryptionByDefault"]
        assert default == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": estate.export(export)}, kind
    logs = s3.get_bucket_encryption(Bucket=f"taglake-{ENV}-{ACCOUNT}-logs")["ServerSideEncryptionConfiguration"]
    assert logs["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_every_kms_key_rotates_and_has_its_alias(estate: Estate) -> None:
    kms = boto3.client("kms")
    aliases = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"]}
    for name in names.KEYS:
        arn = estate.export(name + "Arn")
        assert kms.get_key_rotation_status(KeyId=arn)["KeyRotationEnabled"] is True, name
        alias = f"alias/taglake-{ENV}-{name.removesuffix('Key').lower()}"
        assert aliases[alias] == arn.rsplit("/", 1)[-1]
        policy = _json(kms.get_key_policy(KeyId=arn, PolicyName="default")["Policy"])
        assert all(a != "kms:*" for st in policy["Statement"] for a in st["Action"])


def test_every_role_holds_exactly_the_templates_trust_and_policy(estate: Estate) -> None:
    iam = boto3.client("iam")
    checked = 0
    for stack in ("roles", "ingest", "retrieval", "audit"):
        resolve = estate.resolver(stack)
        for role in resources(load(stack), "AWS::IAM::Role").values():
            props = resolve(role["Properties"])
            have = iam.get_role(RoleName=props["RoleName"])["Role"]
            assert _json(have["AssumeRolePolicyDocument"]) == props["AssumeRolePolicyDocument"]
            attached = iam.list_attached_role_policies(RoleName=props["RoleName"])["AttachedPolicies"]
            assert [a["PolicyArn"] for a in attached] == props.get("ManagedPolicyArns", [])
            for policy in props.get("Policies", []):
                doc = _json(
                    iam.get_role_policy(RoleName=props["RoleName"], PolicyName=policy["PolicyName"])["PolicyDocument"]
                )
                assert doc == policy["PolicyDocument"], props["RoleName"]
                assert not any(
                    "import:" in str(st["Resource"]) or "ref:" in str(st["Resource"]) for st in doc["Statement"]
                )
            checked += 1
    # + the data engineer, Lake Formation's, the ingest and retrieval Lambdas', API Gateway's logging, CloudTrail's
    assert checked == len(load_access().roles) + 6


def test_the_alert_topic_is_encrypted_with_the_ops_key(estate: Estate) -> None:
    attrs = boto3.client("sns").get_topic_attributes(TopicArn=estate.export("AlertTopicArn"))["Attributes"]
    assert attrs["KmsMasterKeyId"] == estate.export("OpsKeyArn")


def test_the_idempotency_table_has_powertools_key_and_kms_and_its_ttl_and_recovery(estate: Estate) -> None:
    ddb = boto3.client("dynamodb")
    name = f"taglake-{ENV}-ingest-idempotency"
    table = ddb.describe_table(TableName=name)["Table"]
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [{"AttributeName": "id", "AttributeType": "S"}]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    # moto's CloudFormation skips TTL and recovery and reads SSESpecification in the API's shape (Enabled), not
    # CloudFormation's (SSEEnabled), and its UpdateTable ignores SSE: the table again through the API, from the
    # template's properties.
    props = _props("ingest", "IdempotencyTable", estate)
    sse = props["SSESpecification"]
    ddb.delete_table(TableName=name)
    ddb.create_table(
        TableName=props["TableName"],
        BillingMode=props["BillingMode"],
        AttributeDefinitions=props["AttributeDefinitions"],
        KeySchema=props["KeySchema"],
        SSESpecification={
            "Enabled": sse["SSEEnabled"],
            "SSEType": sse["SSEType"],
            "KMSMasterKeyId": sse["KMSMasterKeyId"],
        },
    )
    ddb.update_time_to_live(TableName=name, TimeToLiveSpecification=props["TimeToLiveSpecification"])
    ddb.update_continuous_backups(
        TableName=name, PointInTimeRecoverySpecification=props["PointInTimeRecoverySpecification"]
    )
    described = ddb.describe_table(TableName=name)["Table"]["SSEDescription"]
    assert described["SSEType"] == "KMS" and described["KMSMasterKeyArn"] == estate.export("OpsKeyArn")
    ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expiration"}
    backups = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"


def test_the_ingest_lambda_runs_the_agreed_handler_as_its_own_role(estate: Estate) -> None:
    fn = boto3.client("lambda").get_function_configuration(FunctionName=f"taglake-{ENV}-ingest")
    assert fn["Handler"] == "taglake.ingest.app.handler" and fn["Runtime"] == "python3.12"
    assert fn["Role"] == f"arn:aws:iam::{ACCOUNT}:role/taglake-{ENV}-ingest"
    assert fn["Environment"]["Variables"] == {
        "TAGLAKE_RAW_BUCKET": f"taglake-{ENV}-{ACCOUNT}-raw",
        "TAGLAKE_RAW_PREFIX": "raw",
        "TAGLAKE_IDEMPOTENCY_TABLE": f"taglake-{ENV}-ingest-idempotency",
        "POWERTOOLS_SERVICE_NAME": "taglake-ingest",
        "POWERTOOLS_METRICS_NAMESPACE": "taglake",
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }
    # moto's CloudFormation skips tracing and the environment's key, and UpdateFunctionConfiguration ignores them:
    # the function again through the API, from the template's properties.
    props = _props("ingest", "IngestFunction", estate)
    lam = boto3.client("lambda")
    lam.delete_function(FunctionName=props["FunctionName"])
    lam.create_function(
        FunctionName=props["FunctionName"],
        Runtime=props["Runtime"],
        Role=props["Role"],
        Handler=props["Handler"],
        Code=props["Code"],
        Environment=props["Environment"],
        TracingConfig=props["TracingConfig"],
        KMSKeyArn=props["KmsKeyArn"],
        MemorySize=props["MemorySize"],
        Timeout=props["Timeout"],
        Architectures=props["Architectures"],
    )
    fn = lam.get_function_configuration(FunctionName=props["FunctionName"])
    assert fn["TracingConfig"]["Mode"] == "Active" and fn["KMSKeyArn"] == estate.export("OpsKeyArn")
    assert fn["Role"] == f"arn:aws:iam::{ACCOUNT}:role/taglake-{ENV}-ingest" and fn["Timeout"] == 29
    logs = boto3.client("logs")
    for rid in ("IngestLogGroup", "ApiLogGroup"):
        props = _props("ingest", rid, estate)
        # moto's CloudFormation skips the group's key (and moto has no AssociateKmsKey): the group again through the
        # API, from the template's properties
        logs.delete_log_group(logGroupName=props["LogGroupName"])
        logs.create_log_group(logGroupName=props["LogGroupName"], kmsKeyId=props["KmsKeyId"])
        logs.put_retention_policy(logGroupName=props["LogGroupName"], retentionInDays=int(props["RetentionInDays"]))
        (group,) = logs.describe_log_groups(logGroupNamePrefix=props["LogGroupName"])["logGroups"]
        assert group["retentionInDays"] == 365 and group["kmsKeyId"] == estate.export("OpsKeyArn")


def test_the_api_route_requires_an_api_key_and_proxies_to_the_lambda(estate: Estate) -> None:
    apigw = boto3.client("apigateway")
    (api,) = [a for a in apigw.get_rest_apis()["items"] if a["name"] == f"taglake-{ENV}-ingest"]
    paths = {r["path"]: r for r in apigw.get_resources(restApiId=api["id"])["items"]}
    route = paths["/ingest/{source}/{table}"]
    assert set(route["resourceMethods"]) == {"POST"}
    method = apigw.get_method(restApiId=api["id"], resourceId=route["id"], httpMethod="POST")
    assert method["apiKeyRequired"] is True
    assert method["methodIntegration"]["type"] == "AWS_PROXY"
    assert f"function:taglake-{ENV}-ingest/invocations" in method["methodIntegration"]["uri"]


def test_the_dashboard_shows_the_run_metrics(estate: Estate) -> None:
    body = json.loads(boto3.client("cloudwatch").get_dashboard(DashboardName=f"taglake-{ENV}")["DashboardBody"])
    shown = {m[1] for w in body["widgets"] for m in w["properties"]["metrics"] if isinstance(m[0], str)}
    assert {"ModelsFailed", "TestsFailed", "RunDurationSeconds", "BytesScanned", "FreshnessLagSeconds"} <= shown
    assert all(w["properties"]["region"] == REGION for w in body["widgets"])


# --- what moto's CloudFormation skips: through the service APIs, from the template's properties ----------------


def _lifecycle(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in rules:
        rule: dict[str, Any] = {"ID": r["Id"], "Status": r["Status"], "Filter": {"Prefix": ""}}
        if "ExpirationInDays" in r:
            rule["Expiration"] = {"Days": int(r["ExpirationInDays"])}
        if "Transitions" in r:
            rule["Transitions"] = [
                {"Days": int(t["TransitionInDays"]), "StorageClass": t["StorageClass"]} for t in r["Transitions"]
            ]
        if "NoncurrentVersionExpiration" in r:
            rule["NoncurrentVersionExpiration"] = {
                "NoncurrentDays": int(r["NoncurrentVersionExpiration"]["NoncurrentDays"])
            }
        if "AbortIncompleteMultipartUpload" in r:
            rule["AbortIncompleteMultipartUpload"] = r["AbortIncompleteMultipartUpload"]
        out.append(rule)
    return out


def test_every_bucket_is_versioned_private_tls_only_logged_and_raw_expires(estate: Estate) -> None:
    s3 = boto3.client("s3")
    buckets: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}  # name → (properties, policy)
    for stack in ("foundation", "audit"):
        template = load(stack)
        resolve = estate.resolver(stack)
        policies = {
            r["Properties"]["Bucket"]["Ref"]: resolve(r["Properties"]["PolicyDocument"])
            for r in resources(template, "AWS::S3::BucketPolicy").values()
        }
        for rid, bucket in resources(template, "AWS::S3::Bucket").items():
            props = resolve(bucket["Properties"])
            buckets[props["BucketName"]] = (props, policies[rid])
    logs = f"taglake-{ENV}-{ACCOUNT}-logs"
    # moto checks a logging target's policy for the logging service's grant but fails on a statement whose
    # Principal is "*": the logs bucket holds only its grant while the others turn logging on, then its own policy.
    (grant,) = [st for st in buckets[logs][1]["Statement"] if st["Sid"] == "ServerAccessLogs"]
    s3.put_bucket_policy(Bucket=logs, Policy=json.dumps({"Version": "2012-10-17", "Statement": [grant]}))
    for name, (props, _) in buckets.items():
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration=props["VersioningConfiguration"])
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"])
        s3.put_bucket_lifecycle_configuration(
            Bucket=name, LifecycleConfiguration={"Rules": _lifecycle(props["LifecycleConfiguration"]["Rules"])}
        )
        if "LoggingConfiguration" in props:
            logging = props["LoggingConfiguration"]
            target = {"TargetBucket": logging["DestinationBucketName"], "TargetPrefix": logging["LogFilePrefix"]}
            s3.put_bucket_logging(Bucket=name, BucketLoggingStatus={"LoggingEnabled": target})
    for name, (_, policy) in buckets.items():
        s3.put_bucket_policy(Bucket=name, Policy=json.dumps(policy))
    for name in buckets:
        kind = name.rsplit("-", 1)[-1]
        assert s3.get_bucket_versioning(Bucket=name)["Status"] == "Enabled"
        block = s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
        assert all(
            block[k] for k in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")
        )
        policy = json.loads(s3.get_bucket_policy(Bucket=name)["Policy"])
        tls = next(st for st in policy["Statement"] if st["Sid"] == "TlsOnly")
        assert tls["Effect"] == "Deny" and tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert set(tls["Resource"]) == {f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"}
        if kind != "logs":
            target = s3.get_bucket_logging(Bucket=name)["LoggingEnabled"]
            assert (target["TargetBucket"], target["TargetPrefix"]) == (logs, f"{kind}/")
        rules = s3.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]
        assert all(r["Status"] == "Enabled" for r in rules)
        if kind == "raw":
            (rule,) = rules
            assert rule["Expiration"]["Days"] == 90  # dev: infra/params/dev/foundation.json
            assert [t["StorageClass"] for t in rule["Transitions"]] == ["STANDARD_IA", "GLACIER_IR"]
            assert rule["NoncurrentVersionExpiration"]["NoncurrentDays"] == 30
    assert {name.rsplit("-", 1)[-1] for name in buckets} == set(names.BUCKETS)


def test_the_masking_key_secret_is_encrypted_with_the_restricted_key_and_denies_all_but_system(estate: Estate) -> None:
    sm = boto3.client("secretsmanager")
    props = _props("foundation", "MaskingKeySecret", estate)
    arn = sm.create_secret(Name=props["Name"], Description=props["Description"], KmsKeyId=props["KmsKeyId"])["ARN"]
    policy = _props("foundation", "MaskingKeySecretPolicy", estate)
    sm.put_resource_policy(SecretId=arn, ResourcePolicy=json.dumps(policy["ResourcePolicy"]), BlockPublicPolicy=True)
    described = sm.describe_secret(SecretId=arn)
    assert described["Name"] == f"taglake/{ENV}/masking-key"
    assert described["KmsKeyId"] == estate.export("RestrictedKeyArn")
    held = json.loads(sm.get_resource_policy(SecretId=arn)["ResourcePolicy"])
    assert held["Statement"][0]["Condition"]["ArnNotEquals"]["aws:PrincipalArn"] == (
        f"arn:aws:iam::{ACCOUNT}:role/taglake-{ENV}-system"
    )
    # the roles' ARN pattern for the secret matches the name Secrets Manager gives it
    from fnmatch import fnmatchcase

    system = boto3.client("iam").get_role_policy(RoleName=f"taglake-{ENV}-system", PolicyName="least-privilege")
    system["PolicyDocument"] = _json(system["PolicyDocument"])
    patterns = [
        r for st in system["PolicyDocument"]["Statement"] if st["Sid"] == "MaskingKeySecret" for r in st["Resource"]
    ]
    assert any(fnmatchcase(arn, p) for p in patterns)


def _catalog_in_glue(estate: Estate) -> None:
    glue = boto3.client("glue")
    resolve = estate.resolver("catalog")
    template = load("catalog")
    for db in resources(template, "AWS::Glue::Database").values():
        glue.create_database(DatabaseInput=resolve(db["Properties"]["DatabaseInput"]))
    for table in resources(template, "AWS::Glue::Table").values():
        props = resolve(table["Properties"])
        glue.create_table(DatabaseName=props["DatabaseName"], TableInput=props["TableInput"])


def test_the_catalog_stack_creates_what_taglake_catalog_would_and_lake_formation_matches_the_plan(
    estate: Estate,
) -> None:
    _catalog_in_glue(estate)
    glue = boto3.client("glue")
    plan = plan_catalog(
        bucket=f"taglake-{ENV}-{ACCOUNT}-raw",
        prefix=names.RAW_PREFIX,
        keys_location=f"s3://taglake-{ENV}-{ACCOUNT}-restricted/{names.KEYS_PREFIX}/",
    )
    report = sync_catalog(glue, plan)
    assert {result for _, result in report} == {"unchanged"}, [r for r in report if r[1] != "unchanged"]
    # Lake Formation from the template's resources, then the command's plan over it: nothing left to do but the
    # catalog grant the template leaves to it (CREATE_DATABASE).
    lf = boto3.client("lakeformation")
    resolve = estate.resolver("lake-formation")
    template = load("lake-formation")
    for tag in resources(template, "AWS::LakeFormation::Tag").values():
        props = resolve(tag["Properties"])
        lf.create_lf_tag(CatalogId=props["CatalogId"], TagKey=props["TagKey"], TagValues=props["TagValues"])
    for assoc in resources(template, "AWS::LakeFormation::TagAssociation").values():
        props = resolve(assoc["Properties"])
        lf.add_lf_tags_to_resource(CatalogId=ACCOUNT, Resource=props["Resource"], LFTags=props["LFTags"])
    for grant in resources(template, "AWS::LakeFormation::PrincipalPermissions").values():
        props = resolve(grant["Properties"])
        lf.grant_permissions(
            CatalogId=props["Catalog"],
            Principal=props["Principal"],
            Resource=props["Resource"],
            Permissions=props["Permissions"],
            PermissionsWithGrantOption=props["PermissionsWithGrantOption"],
        )
    policy = load_access()
    tables = catalog_tables().values()
    plan_lf = plan_lake_formation(
        policy,
        {r: f"arn:aws:iam::{ACCOUNT}:role/taglake-{ENV}-{r.replace('_', '-')}" for r in policy.roles},
        athena_schema="taglake",
        raw_databases={t.schema for t in tables if not t.restricted},
        keys_databases={t.schema for t in tables if t.restricted},
        catalog_id=ACCOUNT,
    )
    applied = apply_lake_formation(lf, glue, plan_lf)
    changed = [
        (what, result)
        for what, result in applied.rows
        if result not in ("unchanged",) and not result.startswith("layer=")
    ]
    assert changed and all("CREATE_DATABASE on the catalog" in what and result == "granted" for what, result in changed)


def test_every_role_has_its_workgroup_with_enforced_settings_a_scan_cutoff_and_encrypted_results(
    estate: Estate,
) -> None:
    athena = boto3.client("athena")
    resolve = estate.resolver("roles")
    groups = resources(load("roles"), "AWS::Athena::WorkGroup")
    assert len(groups) == len(load_access().roles)
    for wg in groups.values():
        props = resolve(wg["Properties"])
        athena.create_work_group(
            Name=props["Name"], Description=props["Description"], Configuration=props["WorkGroupConfiguration"]
        )
        config = athena.get_work_group(WorkGroup=props["Name"])["WorkGroup"]["Configuration"]
        assert config["EnforceWorkGroupConfiguration"] is True
        assert int(config["BytesScannedCutoffPerQuery"]) in (10737418240, 1099511627776)
        result = config["ResultConfiguration"]
        assert result["EncryptionConfiguration"] == {
            "EncryptionOption": "SSE_KMS",
            "KmsKey": estate.export("ConsumptionKeyArn"),
        }
        role = props["Name"].removeprefix(f"taglake-{ENV}-")
        assert result["OutputLocation"] == f"s3://taglake-{ENV}-{ACCOUNT}-consumption/results/{role}/"


def test_the_usage_plan_throttles_and_caps_each_api_key(estate: Estate) -> None:
    apigw = boto3.client("apigateway")
    (api,) = [a for a in apigw.get_rest_apis()["items"] if a["name"] == f"taglake-{ENV}-ingest"]
    deployment = apigw.create_deployment(restApiId=api["id"])["id"]
    stage = _props("ingest", "Stage", estate)
    apigw.create_stage(restApiId=api["id"], stageName=stage["StageName"], deploymentId=deployment, tracingEnabled=True)
    key_props = _props("ingest", "ApiKey", estate)
    key = apigw.create_api_key(name=key_props["Name"], description=key_props["Description"], enabled=True)
    plan_props = _props("ingest", "UsagePlan", estate)
    plan = apigw.create_usage_plan(
        name=plan_props["UsagePlanName"],
        description=plan_props["Description"],
        apiStages=[{"apiId": api["id"], "stage": s["Stage"]} for s in plan_props["ApiStages"]],
        throttle={
            "rateLimit": float(plan_props["Throttle"]["RateLimit"]),
            "burstLimit": int(plan_props["Throttle"]["BurstLimit"]),
        },
        quota={"limit": int(plan_props["Quota"]["Limit"]), "period": plan_props["Quota"]["Period"]},
    )
    apigw.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    held = apigw.get_usage_plan(usagePlanId=plan["id"])
    assert held["throttle"] == {"rateLimit": 50.0, "burstLimit": 100}
    assert held["quota"]["limit"] == 100000 and held["quota"]["period"] == "DAY"
    assert held["apiStages"] == [{"apiId": api["id"], "stage": "v1"}]
    assert [k["id"] for k in apigw.get_usage_plan_keys(usagePlanId=plan["id"])["items"]] == [key["id"]]


def test_the_trail_records_data_events_on_every_lake_bucket_encrypted_and_validated(estate: Estate) -> None:
    ct = boto3.client("cloudtrail")
    props = _props("audit", "Trail", estate)
    ct.create_trail(
        Name=props["TrailName"],
        S3BucketName=props["S3BucketName"],
        IsMultiRegionTrail=props["IsMultiRegionTrail"],
        IncludeGlobalServiceEvents=props["IncludeGlobalServiceEvents"],
        EnableLogFileValidation=props["EnableLogFileValidation"],
        KmsKeyId=props["KMSKeyId"],
    )
    ct.put_event_selectors(TrailName=props["TrailName"], EventSelectors=props["EventSelectors"])
    trail = ct.get_trail(Name=props["TrailName"])["Trail"]
    assert trail["LogFileValidationEnabled"] is True and trail["IsMultiRegionTrail"] is True
    assert trail["KmsKeyId"] == estate.export("OpsKeyArn")
    (selector,) = ct.get_event_selectors(TrailName=props["TrailName"])["EventSelectors"]
    (data,) = selector["DataResources"]
    assert data["Type"] == "AWS::S3::Object"
    assert set(data["Values"]) == {
        f"arn:aws:s3:::taglake-{ENV}-{ACCOUNT}-{k}/" for k in ("raw", "curated", "consumption", "restricted")
    }


def test_every_alarm_and_the_budget_notify_the_alert_topic(estate: Estate) -> None:
    cw = boto3.client("cloudwatch")
    resolve = estate.resolver("monitoring")
    template = load("monitoring")
    topic = estate.export("AlertTopicArn")
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    for alarm in alarms.values():
        cw.put_metric_alarm(**resolve(alarm["Properties"]))
    held = cw.describe_alarms(AlarmNamePrefix=f"taglake-{ENV}-")["MetricAlarms"]
    assert len(held) == len(alarms)
    assert all(a["AlarmActions"] == [topic] for a in held)
    failed = next(a for a in held if a["MetricName"] == "ModelsFailed")
    assert failed["Namespace"] == "Taglake" and failed["Dimensions"] == [
        {"Name": "Environment", "Value": ENV},
        {"Name": "Target", "Value": "athena"},
    ]
    budgets = boto3.client("budgets")
    props = resolve(template["Resources"]["Budget"]["Properties"])
    budget = props["Budget"]
    budget["BudgetLimit"]["Amount"] = str(budget["BudgetLimit"]["Amount"])
    budgets.create_budget(
        AccountId=ACCOUNT, Budget=budget, NotificationsWithSubscribers=props["NotificationsWithSubscribers"]
    )
    notes = budgets.describe_notifications_for_budget(AccountId=ACCOUNT, BudgetName=budget["BudgetName"])[
        "Notifications"
    ]
    assert sorted((n["NotificationType"], n["Threshold"]) for n in notes) == [
        ("ACTUAL", 80.0),
        ("ACTUAL", 100.0),
        ("FORECASTED", 100.0),
    ]
    # moto does not implement reading a notification's subscribers: those as template data
    for note in props["NotificationsWithSubscribers"]:
        assert {"SubscriptionType": "SNS", "Address": topic} in note["Subscribers"]


def test_the_mwaa_environment_runs_the_bundle_as_the_pipeline_role_privately(estate: Estate) -> None:
    """moto implements no MWAA CreateEnvironment: the environment's properties as data (resolved), its security
    group as deployed, and the execution role's trust as IAM holds it."""
    props = _props("mwaa", "AirflowEnvironment", estate)
    (group,) = boto3.client("ec2").describe_security_groups(GroupIds=props["NetworkConfiguration"]["SecurityGroupIds"])[
        "SecurityGroups"
    ]
    assert group["VpcId"] == estate.overrides["mwaa"]["VpcId"]
    assert props["ExecutionRoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/taglake-{ENV}-pipeline"
    assert props["SourceBucketArn"] == f"arn:aws:s3:::taglake-{ENV}-{ACCOUNT}-mwaa"
    paths = (props["DagS3Path"], props["RequirementsS3Path"], props["StartupScriptS3Path"])
    assert paths == ("dags", "requirements.txt", "startup.sh")  # taglake.aws.mwaa_bundle's layout
    from taglake.aws import mwaa_bundle

    assert set(mwaa_bundle.TOP_FILES) == {"requirements.txt", "startup.sh"}
    assert props["WebserverAccessMode"] == "PRIVATE_ONLY" and props["KmsKey"] == estate.export("OpsKeyArn")
    assert all(log["Enabled"] for log in props["LoggingConfiguration"].values())
    assert props["NetworkConfiguration"]["SubnetIds"] == estate.overrides["mwaa"]["PrivateSubnetIds"]
    trust = boto3.client("iam").get_role(RoleName=f"taglake-{ENV}-pipeline")["Role"]["AssumeRolePolicyDocument"]
    assert "airflow-env.amazonaws.com" in _json(trust)["Statement"][0]["Principal"]["Service"]


# --- the tag retrieval stack (generated from taglake.serve: taglake/infra/retrieval.py) ----------------------------


def test_the_tag_cache_is_keyed_by_token_encrypted_with_the_consumption_key_and_recoverable(estate: Estate) -> None:
    from taglake.serve.store import TOKEN_KEY

    ddb = boto3.client("dynamodb")
    name = f"taglake-{ENV}-tag-cache"
    table = ddb.describe_table(TableName=name)["Table"]
    assert table["KeySchema"] == [{"AttributeName": TOKEN_KEY, "KeyType": "HASH"}]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    # moto's CloudFormation skips recovery and SSE (as for the idempotency table): again through the API
    props = _props("retrieval", "CacheTable", estate)
    sse = props["SSESpecification"]
    ddb.delete_table(TableName=name)
    ddb.create_table(
        TableName=props["TableName"],
        BillingMode=props["BillingMode"],
        AttributeDefinitions=props["AttributeDefinitions"],
        KeySchema=props["KeySchema"],
        SSESpecification={
            "Enabled": sse["SSEEnabled"],
            "SSEType": sse["SSEType"],
            "KMSMasterKeyId": sse["KMSMasterKeyId"],
        },
    )
    ddb.update_continuous_backups(
        TableName=name, PointInTimeRecoverySpecification=props["PointInTimeRecoverySpecification"]
    )
    described = ddb.describe_table(TableName=name)["Table"]["SSEDescription"]
    assert described["SSEType"] == "KMS" and described["KMSMasterKeyArn"] == estate.export("ConsumptionKeyArn")
    backups = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    # no TTL: the refresh deletes the tokens no longer in the marts itself
    assert ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]["TimeToLiveStatus"] == "DISABLED"


def test_the_retrieval_lambda_runs_the_serve_handler_over_the_cache_table_with_kept_encrypted_logs(
    estate: Estate,
) -> None:
    from taglake.serve import app

    fn = boto3.client("lambda").get_function_configuration(FunctionName=f"taglake-{ENV}-tag-retrieval")
    assert fn["Handler"] == "taglake.serve.app.handler" and fn["Runtime"] == "python3.12"
    assert fn["Role"] == f"arn:aws:iam::{ACCOUNT}:role/taglake-{ENV}-tag-retrieval"
    assert fn["Environment"]["Variables"] == {
        app.CACHE_TABLE_ENV: f"taglake-{ENV}-tag-cache",
        "POWERTOOLS_SERVICE_NAME": app.SERVICE,
        "POWERTOOLS_METRICS_NAMESPACE": app.NAMESPACE,
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }
    logs = boto3.client("logs")
    for rid in ("LambdaLogGroup", "ApiLogGroup"):
        props = _props("retrieval", rid, estate)
        logs.delete_log_group(logGroupName=props["LogGroupName"])
        logs.create_log_group(logGroupName=props["LogGroupName"], kmsKeyId=props["KmsKeyId"])
        logs.put_retention_policy(logGroupName=props["LogGroupName"], retentionInDays=int(props["RetentionInDays"]))
        (group,) = logs.describe_log_groups(logGroupNamePrefix=props["LogGroupName"])["logGroups"]
        assert group["retentionInDays"] == 365 and group["kmsKeyId"] == estate.export("OpsKeyArn")


def test_the_retrieval_routes_are_the_openapi_documents_each_keyed_and_proxied_to_the_lambda(estate: Estate) -> None:
    from taglake.serve.openapi import openapi_document

    apigw = boto3.client("apigateway")
    (api,) = [a for a in apigw.get_rest_apis()["items"] if a["name"] == f"taglake-{ENV}-tag-retrieval"]
    held = {
        (m, r["path"]): r["id"]
        for r in apigw.get_resources(restApiId=api["id"])["items"]
        for m in r.get("resourceMethods", {})
    }
    documented = {(m.upper(), path) for path, ops in openapi_document()["paths"].items() for m in ops}
    assert set(held) == documented == {("GET", "/customers/{customer_token}/tags"), ("POST", "/customers/tags/batch")}
    for (method, _), rid in held.items():
        got = apigw.get_method(restApiId=api["id"], resourceId=rid, httpMethod=method)
        assert got["apiKeyRequired"] is True and got["methodIntegration"]["type"] == "AWS_PROXY"
        assert f"function:taglake-{ENV}-tag-retrieval/invocations" in got["methodIntegration"]["uri"]


def _dynamodb_statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        st
        for st in document["Statement"]
        if any(a.startswith("dynamodb:") for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"]))
    ]


def test_the_lambda_only_reads_the_cache_and_the_refresh_only_writes_it_and_scans_its_keys(estate: Estate) -> None:
    from taglake.serve.store import TOKEN_KEY

    iam = boto3.client("iam")
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/taglake-{ENV}-tag-cache"
    reader = _json(
        iam.get_role_policy(RoleName=f"taglake-{ENV}-tag-retrieval", PolicyName="least-privilege")["PolicyDocument"]
    )
    (read,) = _dynamodb_statements(reader)
    assert sorted(read["Action"]) == ["dynamodb:BatchGetItem", "dynamodb:GetItem"] and read["Resource"] == table
    # the refresh writer: the pipeline role (the DAG's), given the grant by the retrieval stack
    writer = _json(
        iam.get_role_policy(RoleName=f"taglake-{ENV}-pipeline", PolicyName="tag-cache-refresh")["PolicyDocument"]
    )
    statements = _dynamodb_statements(writer)
    actions = {a for st in statements for a in st["Action"]}
    assert actions == {
        "dynamodb:BatchWriteItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:DescribeTable", "dynamodb:Scan"
    }  # fmt: skip
    assert all(st["Resource"] == table for st in statements)
    (scan,) = [st for st in statements if st["Action"] == ["dynamodb:Scan"]]
    assert scan["Condition"]["ForAllValues:StringEquals"] == {"dynamodb:Attributes": [TOKEN_KEY]}
    assert scan["Condition"]["StringEquals"] == {"dynamodb:Select": "SPECIFIC_ATTRIBUTES"}
    # and no other role of the estate holds any DynamoDB action on the cache
    others = [
        r["RoleName"]
        for r in iam.list_roles()["Roles"]
        for p in iam.list_role_policies(RoleName=r["RoleName"])["PolicyNames"]
        if r["RoleName"] not in (f"taglake-{ENV}-tag-retrieval", f"taglake-{ENV}-pipeline")
        and "tag-cache"
        in json.dumps(_json(iam.get_role_policy(RoleName=r["RoleName"], PolicyName=p)["PolicyDocument"]))
    ]
    assert others == []
