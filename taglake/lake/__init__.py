"""The raw zone as files: what lands, the ways real feeds land it (feed variants), and the pre-flight check that
reads every file before dbt does."""
