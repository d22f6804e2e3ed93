"""Environment that lets the AWS targets parse and compile offline: no value is real, nothing is contacted."""

ATHENA_ENV = {
    "TAGLAKE_AWS_REGION": "ap-northeast-1",
    "TAGLAKE_ATHENA_SCHEMA": "taglake",
    "TAGLAKE_ATHENA_S3_STAGING_DIR": "s3://example-results/taglake/",
    "TAGLAKE_ATHENA_S3_DATA_DIR": "s3://example-curated/taglake/",
    "TAGLAKE_ATHENA_WORK_GROUP": "taglake-pipeline",
}
REDSHIFT_ENV = {
    "TAGLAKE_AWS_REGION": "ap-northeast-1",
    "TAGLAKE_REDSHIFT_METHOD": "iam",
    "TAGLAKE_REDSHIFT_HOST": "example.invalid",
    "TAGLAKE_REDSHIFT_PORT": "5439",
    "TAGLAKE_REDSHIFT_DATABASE": "dw",
    "TAGLAKE_REDSHIFT_SCHEMA": "taglake",
    "TAGLAKE_REDSHIFT_USER": "taglake_pipeline",
    "TAGLAKE_REDSHIFT_CLUSTER_ID": "example",
}
OFFLINE_TARGET_ENV: dict[str, dict[str, str]] = {"local": {}, "athena": ATHENA_ENV, "redshift": REDSHIFT_ENV}
