"""infra/stacks/retrieval.yaml: the tag retrieval API on AWS — API Gateway (REST, API keys, usage plan, WAF), the
retrieval Lambda (taglake.serve.app.handler), the DynamoDB cache it reads, and the grant that lets the daily run's
refresh (`taglake serve refresh-cache`, the pipeline role) write that cache and nothing else of it.

Every fact the code declares is taken from the code, not written again: the routes and their methods
(taglake.serve.app.ROUTE, BATCH_ROUTE), the handler's dotted name, its environment variable for the table
(CACHE_TABLE_ENV), the Powertools service and namespace, the table's key (taglake.serve.store.TOKEN_KEY) and the
largest body the handler takes (MAX_BODY_BYTES: the WAF refuses larger ones before the Lambda runs).

Least privilege:
- the Lambda's role reads the cache table only (GetItem, BatchGetItem) and decrypts with its key; no write, no scan;
- the refresh writer (the pipeline role: the DAG's identity) may put and delete items, and scan the key attribute
  only (the refresh deletes the tokens no longer in the marts): never another attribute, never an old item back
  (ReturnValues NONE);
- the table is encrypted with the consumption zone's customer key (what it holds is consumption data: tokens and
  tags), point-in-time recovery on, no TTL (the refresh deletes stale items itself: an item's age says nothing).
The API Gateway account setting (its CloudWatch role) is the ingest stack's: deploy ingest first (names.STACKS).
"""

from __future__ import annotations

import re
from typing import Any

from taglake.infra import names
from taglake.infra.template import logical_id, template

STACK = "retrieval"
# Physical names (Fn::Sub text), derived like every other: taglake-<env>-<what>.
TABLE_NAME = "taglake-${Environment}-tag-cache"
FUNCTION_NAME = "taglake-${Environment}-tag-retrieval"
ROLE_NAME = "taglake-${Environment}-tag-retrieval"
API_NAME = "taglake-${Environment}-tag-retrieval"
STAGE = "v1"
# The key of the zone whose data the cache holds (tokens and tags, read from the consumption marts).
TABLE_KEY_EXPORT = "ConsumptionKeyArn"
LOGS_KEY_EXPORT = "OpsKeyArn"
# The identity that refreshes the cache after each daily run (dags/taglake_daily.py runs as it on MWAA).
REFRESH_ROLE = "pipeline"
LAMBDA_READ = ("dynamodb:GetItem", "dynamodb:BatchGetItem")
REFRESH_WRITE = ("dynamodb:BatchWriteItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:DescribeTable")


def handler_name() -> str:
    from taglake.serve import app

    return f"{app.handler.__module__}.{app.handler.__name__}"


def routes() -> list[tuple[str, tuple[str, ...]]]:
    """(HTTP method, path parts) of each route the resolver declares, in API Gateway's `{param}` form."""
    from taglake.serve import app

    out = []
    for method, route in (("GET", app.ROUTE), ("POST", app.BATCH_ROUTE)):
        parts = tuple(re.sub(r"<([a-z_]+)>", r"{\1}", p) for p in route.strip("/").split("/"))
        out.append((method, parts))
    return out


def _resource_id(parts: tuple[str, ...]) -> str:
    return logical_id(*(p.strip("{}") for p in parts), "resource")


def _sub(text: str) -> dict[str, Any]:
    return {"Fn::Sub": text}


def _statement(sid: str, actions: tuple[str, ...] | list[str], resource: Any, **condition: Any) -> dict[str, Any]:
    st: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Action": list(actions), "Resource": resource}
    if condition:
        st["Condition"] = condition
    return st


def _table() -> dict[str, Any]:
    from taglake.serve.store import TOKEN_KEY

    return {
        "Type": "AWS::DynamoDB::Table",
        # The cache is rebuilt by the next refresh: nothing is lost with the stack but a day's copy.
        "DeletionPolicy": "Delete",
        "UpdateReplacePolicy": "Delete",
        "Properties": {
            "TableName": _sub(TABLE_NAME),
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": TOKEN_KEY, "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": TOKEN_KEY, "KeyType": "HASH"}],
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {
                "SSEEnabled": True,
                "SSEType": "KMS",
                "KMSMasterKeyId": names.export(TABLE_KEY_EXPORT),
            },
        },
    }


def lambda_statements() -> list[dict[str, Any]]:
    from taglake.serve.app import NAMESPACE

    return [
        _statement("ReadCache", LAMBDA_READ, {"Fn::GetAtt": ["CacheTable", "Arn"]}),
        _statement("CacheKey", ("kms:Decrypt", "kms:DescribeKey"), names.export(TABLE_KEY_EXPORT)),
        _statement("Logs", ("logs:CreateLogStream", "logs:PutLogEvents"), _sub("${LambdaLogGroup.Arn}")),
        _statement("Metrics", ("cloudwatch:PutMetricData",), "*", StringEquals={"cloudwatch:namespace": NAMESPACE}),
        _statement("Traces", ("xray:PutTraceSegments", "xray:PutTelemetryRecords"), "*"),
    ]


def refresh_statements() -> list[dict[str, Any]]:
    from taglake.serve.store import TOKEN_KEY

    table = {"Fn::GetAtt": ["CacheTable", "Arn"]}
    return [
        _statement(
            "WriteCache", REFRESH_WRITE, table, StringEqualsIfExists={"dynamodb:ReturnValues": ["NONE"]}
        ),
        # The stale-token sweep: a scan that projects the key attribute only.
        _statement(
            "ScanCacheKeys",
            ("dynamodb:Scan",),
            table,
            **{
                "ForAllValues:StringEquals": {"dynamodb:Attributes": [TOKEN_KEY]},
                "StringEquals": {"dynamodb:Select": "SPECIFIC_ATTRIBUTES"},
            },
        ),
        _statement(
            "CacheKey", ("kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"),
            names.export(TABLE_KEY_EXPORT),
        ),
    ]  # fmt: skip


def _function() -> dict[str, Any]:
    from taglake.serve.app import CACHE_TABLE_ENV, NAMESPACE, SERVICE

    return {
        "Type": "AWS::Lambda::Function",
        "Metadata": {
            "checkov": {
                "skip": [
                    {
                        "id": "CKV_AWS_117",
                        "comment": "the function calls only DynamoDB, CloudWatch and X-Ray endpoints; a VPC would add "
                        "NAT or interface endpoints and no isolation the IAM policy does not already give",
                    },
                    {
                        "id": "CKV_AWS_116",
                        "comment": "API Gateway invokes it synchronously and returns the error to the caller, who "
                        "retries (a read); a dead-letter queue applies to asynchronous invocations only",
                    },
                ]
            }
        },
        "Properties": {
            "FunctionName": _sub(FUNCTION_NAME),
            "Description": f"taglake tag retrieval API ({handler_name()})",
            "Runtime": "python3.12",
            "Architectures": ["arm64"],
            "Handler": handler_name(),
            "Code": {"S3Bucket": {"Ref": "LambdaCodeBucket"}, "S3Key": {"Ref": "LambdaCodeKey"}},
            "Role": {"Fn::GetAtt": ["LambdaRole", "Arn"]},
            "MemorySize": 512,
            "Timeout": 10,
            "ReservedConcurrentExecutions": {
                "Fn::If": ["ReservesConcurrency", {"Ref": "ReservedConcurrency"}, {"Ref": "AWS::NoValue"}]
            },
            "TracingConfig": {"Mode": "Active"},
            "KmsKeyArn": names.export(LOGS_KEY_EXPORT),
            "LoggingConfig": {"LogGroup": {"Ref": "LambdaLogGroup"}, "LogFormat": "JSON"},
            "Environment": {
                "Variables": {
                    CACHE_TABLE_ENV: {"Ref": "CacheTable"},
                    "POWERTOOLS_SERVICE_NAME": SERVICE,
                    "POWERTOOLS_METRICS_NAMESPACE": NAMESPACE,
                    "POWERTOOLS_LOG_LEVEL": "INFO",
                }
            },
        },
    }


def _log_group(name: str) -> dict[str, Any]:
    return {
        "Type": "AWS::Logs::LogGroup",
        "Properties": {
            "LogGroupName": _sub(name),
            "RetentionInDays": {"Ref": "LogRetentionDays"},
            "KmsKeyId": names.export(LOGS_KEY_EXPORT),
        },
    }


def _api_resources() -> tuple[dict[str, Any], list[str]]:
    """The REST API's resources (one per path part, shared prefixes once), its methods and invoke permissions."""
    resources: dict[str, Any] = {}
    methods: list[str] = []
    for method, parts in routes():
        parent: Any = {"Fn::GetAtt": ["Api", "RootResourceId"]}
        for depth in range(1, len(parts) + 1):
            rid = _resource_id(parts[:depth])
            resources.setdefault(
                rid,
                {
                    "Type": "AWS::ApiGateway::Resource",
                    "Properties": {"RestApiId": {"Ref": "Api"}, "ParentId": parent, "PathPart": parts[depth - 1]},
                },
            )
            parent = {"Ref": rid}
        params = [p.strip("{}") for p in parts if p.startswith("{")]
        mid = logical_id(method.lower(), *(p.strip("{}") for p in parts), "method")
        properties: dict[str, Any] = {
            "RestApiId": {"Ref": "Api"},
            "ResourceId": parent,
            "HttpMethod": method,
            "AuthorizationType": "NONE",
            "ApiKeyRequired": True,
            "Integration": {
                "Type": "AWS_PROXY",
                "IntegrationHttpMethod": "POST",
                "Uri": _sub(
                    "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/"
                    "${Function.Arn}/invocations"
                ),
            },
        }
        if params:
            properties["RequestParameters"] = {f"method.request.path.{p}": True for p in params}
        resources[mid] = {"Type": "AWS::ApiGateway::Method", "Properties": properties}
        path = "/".join("*" if p.startswith("{") else p for p in parts)
        resources[logical_id(method.lower(), *(p.strip("{}") for p in parts), "permission")] = {
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "FunctionName": {"Ref": "Function"},
                "Action": "lambda:InvokeFunction",
                "Principal": "apigateway.amazonaws.com",
                "SourceArn": _sub(
                    "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${Api}/*/" + f"{method}/{path}"
                ),
            },
        }
        methods.append(mid)
    return resources, methods


ACCESS_LOG_FORMAT = (
    '{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","apiKeyId":"$context.identity.apiKeyId",'
    '"method":"$context.httpMethod","resource":"$context.resourcePath","status":"$context.status",'
    '"latency":"$context.responseLatency","length":"$context.responseLength"}'
)


def _waf_rule(name: str, priority: int, statement: dict[str, Any], *, managed: bool) -> dict[str, Any]:
    rule: dict[str, Any] = {"Name": name, "Priority": priority, "Statement": statement}
    rule["OverrideAction" if managed else "Action"] = {"None": {}} if managed else {"Block": {}}
    rule["VisibilityConfig"] = {
        "SampledRequestsEnabled": False,  # a sampled request would keep a token in WAF's console
        "CloudWatchMetricsEnabled": True,
        "MetricName": name,
    }
    return rule


def _web_acl() -> dict[str, Any]:
    from taglake.serve.app import MAX_BODY_BYTES

    return {
        "Type": "AWS::WAFv2::WebACL",
        "Properties": {
            "Name": _sub(API_NAME),
            "Scope": "REGIONAL",
            "DefaultAction": {"Allow": {}},
            "VisibilityConfig": {
                "SampledRequestsEnabled": False,
                "CloudWatchMetricsEnabled": True,
                "MetricName": "taglake-tag-retrieval",
            },
            "Rules": [
                _waf_rule(
                    "aws-common",
                    0,
                    {
                        "ManagedRuleGroupStatement": {
                            "VendorName": "AWS",
                            "Name": "AWSManagedRulesCommonRuleSet",
                            # its 8 KiB body limit; the body-size rule below holds the handler's own limit
                            "ExcludedRules": [{"Name": "SizeRestrictions_BODY"}],
                        }
                    },
                    managed=True,
                ),
                _waf_rule(
                    "aws-known-bad-inputs",
                    1,
                    {
                        "ManagedRuleGroupStatement": {
                            "VendorName": "AWS",
                            "Name": "AWSManagedRulesKnownBadInputsRuleSet",
                        }
                    },
                    managed=True,
                ),
                _waf_rule(
                    "rate-per-ip", 2, {"RateBasedStatement": {"Limit": 2000, "AggregateKeyType": "IP"}}, managed=False
                ),
                _waf_rule(
                    "body-size",
                    3,
                    {
                        "SizeConstraintStatement": {
                            "FieldToMatch": {"Body": {"OversizeHandling": "MATCH"}},
                            "ComparisonOperator": "GT",
                            "Size": MAX_BODY_BYTES,
                            "TextTransformations": [{"Priority": 0, "Type": "NONE"}],
                        }
                    },
                    managed=False,
                ),
            ],
        },
    }


PARAMETERS: dict[str, Any] = {
    "Environment": names.ENVIRONMENT_PARAMETER,
    "LambdaCodeBucket": {
        "Type": "String",
        "Description": "The bucket holding the Lambda package (the MWAA bucket's lambda/ folder is the usual place)",
    },
    "LambdaCodeKey": {
        "Type": "String",
        "Default": "lambda/taglake-ingest.zip",
        "Description": "The Lambda package's key: the same package as the ingest Lambda (make lambda-package holds "
        "all of taglake); a new key per release makes CloudFormation update it",
    },
    "ThrottleRateLimit": {"Type": "Number", "Default": 100, "Description": "Steady requests per second per API key"},
    "ThrottleBurstLimit": {"Type": "Number", "Default": 200, "Description": "Burst requests per API key"},
    "DailyQuota": {"Type": "Number", "Default": 1000000, "Description": "Requests per API key per day"},
    "LogRetentionDays": {
        "Type": "Number",
        "Default": 365,
        "AllowedValues": [30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653],
        "Description": "Days the Lambda's and the API's logs are kept",
    },
    "ReservedConcurrency": {
        "Type": "Number",
        "Default": 50,
        "MinValue": -1,
        "Description": "The Lambda's reserved concurrency (caps what a flood of requests can cost); -1 for none",
    },
}


def render_retrieval() -> dict[str, Any]:
    api_resources, methods = _api_resources()
    resources: dict[str, Any] = {
        "CacheTable": _table(),
        "LambdaLogGroup": _log_group("/aws/lambda/" + FUNCTION_NAME),
        "LambdaRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "RoleName": _sub(ROLE_NAME),
                "Description": "taglake tag retrieval Lambda: reads the tag cache, nothing else",
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                },
                "Policies": [
                    {
                        "PolicyName": "least-privilege",
                        "PolicyDocument": {"Version": "2012-10-17", "Statement": lambda_statements()},
                    }
                ],
            },
        },
        "RefreshPolicy": {
            "Type": "AWS::IAM::Policy",
            "Properties": {
                "PolicyName": "tag-cache-refresh",
                "Roles": [_sub(names.role_name(REFRESH_ROLE))],
                "PolicyDocument": {"Version": "2012-10-17", "Statement": refresh_statements()},
            },
        },
        "Function": _function(),
        "Api": {
            "Type": "AWS::ApiGateway::RestApi",
            "Properties": {
                "Name": _sub(API_NAME),
                "Description": "taglake tag retrieval API (docs/retrieval.md)",
                "EndpointConfiguration": {"Types": ["REGIONAL"]},
                "ApiKeySourceType": "HEADER",
            },
        },
        **api_resources,
        "Deployment": {
            "Type": "AWS::ApiGateway::Deployment",
            "DependsOn": methods,
            "Properties": {"RestApiId": {"Ref": "Api"}},
        },
        "ApiLogGroup": _log_group("/aws/apigateway/" + API_NAME),
        "Stage": {
            "Type": "AWS::ApiGateway::Stage",
            "Metadata": {
                "checkov": {
                    "skip": [
                        {
                            "id": "CKV_AWS_120",
                            "comment": "an API Gateway cache would keep each customer's tags outside the encrypted "
                            "table and past the next refresh; the DynamoDB cache is the cache",
                        }
                    ]
                }
            },
            "Properties": {
                "RestApiId": {"Ref": "Api"},
                "DeploymentId": {"Ref": "Deployment"},
                "StageName": STAGE,
                "TracingEnabled": True,
                "AccessLogSetting": {
                    "DestinationArn": {"Fn::GetAtt": ["ApiLogGroup", "Arn"]},
                    # Who called and how it went: no body, no path value (a token stays out of the logs).
                    "Format": ACCESS_LOG_FORMAT,
                },
                "MethodSettings": [
                    {
                        "ResourcePath": "/*",
                        "HttpMethod": "*",
                        "MetricsEnabled": True,
                        "LoggingLevel": "OFF",
                        "DataTraceEnabled": False,
                        "ThrottlingRateLimit": {"Ref": "ThrottleRateLimit"},
                        "ThrottlingBurstLimit": {"Ref": "ThrottleBurstLimit"},
                    }
                ],
            },
        },
        "WebAcl": _web_acl(),
        "WebAclAssociation": {
            "Type": "AWS::WAFv2::WebACLAssociation",
            "Properties": {
                "ResourceArn": _sub(
                    "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${Api}/stages/${Stage}"
                ),
                "WebACLArn": {"Fn::GetAtt": ["WebAcl", "Arn"]},
            },
        },
        "ApiKey": {
            "Type": "AWS::ApiGateway::ApiKey",
            "DependsOn": "Stage",
            "Properties": {
                "Name": _sub(API_NAME + "-default"),
                "Description": "The first application's key (add one ApiKey and UsagePlanKey per application)",
                "Enabled": True,
            },
        },
        "UsagePlan": {
            "Type": "AWS::ApiGateway::UsagePlan",
            "DependsOn": "Stage",
            "Properties": {
                "UsagePlanName": _sub(API_NAME),
                "Description": "Throttle and daily quota per API key",
                "ApiStages": [{"ApiId": {"Ref": "Api"}, "Stage": STAGE}],
                "Throttle": {"RateLimit": {"Ref": "ThrottleRateLimit"}, "BurstLimit": {"Ref": "ThrottleBurstLimit"}},
                "Quota": {"Limit": {"Ref": "DailyQuota"}, "Period": "DAY"},
            },
        },
        "UsagePlanKey": {
            "Type": "AWS::ApiGateway::UsagePlanKey",
            "Properties": {"KeyId": {"Ref": "ApiKey"}, "KeyType": "API_KEY", "UsagePlanId": {"Ref": "UsagePlan"}},
        },
    }
    outputs = {
        "RetrievalUrl": {
            "Description": "GET {RetrievalUrl}/customers/{customer_token}/tags with header x-api-key",
            "Value": _sub("https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/" + STAGE),
        },
        "CacheTableName": {
            "Description": "taglake serve refresh-cache --table <this> (the DAG's TAGLAKE_TAG_CACHE_TABLE)",
            "Value": {"Ref": "CacheTable"},
        },
        "ApiKeyId": {
            "Description": "aws apigateway get-api-key --api-key <id> --include-value: the key for the application",
            "Value": {"Ref": "ApiKey"},
        },
    }
    return template(
        "taglake tag retrieval API: API Gateway (REST, API keys, usage plan, WAF), the retrieval Lambda, the DynamoDB "
        "tag cache and the refresh's write grant, from taglake.serve",
        PARAMETERS,
        resources,
        Conditions={"ReservesConcurrency": {"Fn::Not": [{"Fn::Equals": [{"Ref": "ReservedConcurrency"}, -1]}]}},
        Outputs=outputs,
    )
