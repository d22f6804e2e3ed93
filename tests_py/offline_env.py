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
ATHENA_SYSTEM_ENV = {
    **ATHENA_ENV,
    "TAGLAKE_ATHENA_SYSTEM_S3_STAGING_DIR": "s3://example-restricted-results/taglake/",
    "TAGLAKE_ATHENA_SYSTEM_S3_DATA_DIR": "s3://example-restricted/taglake/",
    "TAGLAKE_ATHENA_SYSTEM_WORK_GROUP": "taglake-system",
    "TAGLAKE_SYSTEM_IDENTITY": "arn:aws:iam::123456789012:role/taglake-system",
}
REDSHIFT_SYSTEM_ENV = {
    **REDSHIFT_ENV,
    "TAGLAKE_REDSHIFT_SYSTEM_USER": "taglake_system",
    "TAGLAKE_SYSTEM_IDENTITY": "arn:aws:iam::123456789012:role/taglake-system",
}
OFFLINE_TARGET_ENV: dict[str, dict[str, str]] = {
    "local": {},
    "local_system": {"TAGLAKE_SYSTEM_IDENTITY": "/nonexistent/system_identity.json"},
    "athena": ATHENA_ENV,
    "athena_system": ATHENA_SYSTEM_ENV,
    "redshift": REDSHIFT_ENV,
    "redshift_system": REDSHIFT_SYSTEM_ENV,
}
