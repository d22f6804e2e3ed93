"""The raw zone as files: the synthetic generator and its feeds, the raw table specs, the ways real feeds land
(feed variants), and the pre-flight check that reads every file before dbt does."""
