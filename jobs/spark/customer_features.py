"""The EMR job: per-customer features from the masked `features` extracts, written as Parquet (docs/ml.md).

    spark-submit jobs/spark/customer_features.py --extracts <root>/extracts/features --as-of 2026-06-30 \
        --output <root>/features/customer_spend_features

(or `python jobs/spark/customer_features.py …` in the PySpark venv, `make venv-pyspark`). On EMR the roots are
`s3://<consumption bucket>/extracts/features` and an output prefix of the same bucket. It reads only the extracts
(`taglake ml export`): the training-feature table and the monthly customer metrics, keyed by `customer_token`;
nothing raw, nothing from the vault. The output is one row per customer: the training features' generalised
attributes and, from the monthly metrics, spend aggregates over the months before the as-of date.

Runs in its own venv (PySpark's pins are not the project's); imports nothing of taglake.
"""

from __future__ import annotations

import argparse
import sys

TRAINING = "customer_training_features_v1"
MONTHLY = "fct_customer_monthly_metrics"
KEEP = (
    "customer_token",
    "as_of_date",
    "age_band",
    "city",
    "risk_grade",
    "tenure_days",
    "product_type_count",
)


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="customer_features", description=__doc__.split("\n\n")[0])
    p.add_argument("--extracts", required=True, help="the features dataset's extracts folder (local path or s3://)")
    p.add_argument("--as-of", required=True, help="the extracts' as-of date, YYYY-MM-DD")
    p.add_argument("--output", required=True, help="where the feature set is written (Parquet, overwritten)")
    p.add_argument("--master", default=None, help="Spark master (local[2] for tests; EMR sets its own)")
    return p.parse_args(argv)


def features(spark, extracts: str, as_of: str):  # type: ignore[no-untyped-def]
    """The feature set as a DataFrame (lazy)."""
    from pyspark.sql import functions as F

    part = f"as_of_date={as_of}"
    training = spark.read.parquet(f"{extracts}/{TRAINING}/{part}").select(*KEEP)
    monthly = spark.read.parquet(f"{extracts}/{MONTHLY}/{part}")
    as_of_date = F.to_date(F.lit(as_of))
    recent = F.col("spend_month") >= F.add_months(F.trunc(as_of_date, "month"), -3)
    spend = F.coalesce(F.col("spend_twd").cast("double"), F.lit(0.0))
    agg = monthly.groupBy("customer_token").agg(
        F.countDistinct("spend_month").alias("active_months"),
        F.sum(spend).alias("spend_total_twd"),
        F.avg(spend).alias("spend_monthly_avg_twd"),
        F.max(spend).alias("spend_monthly_max_twd"),
        F.sum(F.when(recent, spend).otherwise(0.0)).alias("spend_last_3m_twd"),
        F.sum(F.coalesce(F.col("transaction_count"), F.lit(0))).alias("transaction_count_total"),
        F.avg(F.col("spend_category_count").cast("double")).alias("spend_category_count_avg"),
    )
    out = training.join(agg, on="customer_token", how="left")
    zero = {c: 0 for c in ("active_months", "transaction_count_total")}
    zero |= {c: 0.0 for c in ("spend_total_twd", "spend_monthly_avg_twd", "spend_monthly_max_twd", "spend_last_3m_twd")}
    return out.fillna(zero)


def run(spark, extracts: str, as_of: str, output: str) -> int:  # type: ignore[no-untyped-def]
    """Write the feature set; the number of rows written."""
    df = features(spark, extracts, as_of).cache()
    df.coalesce(1).write.mode("overwrite").parquet(output)
    return df.count()


def session(master: str | None, app: str = "taglake-customer-features"):  # type: ignore[no-untyped-def]
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(app)
    if master:
        builder = builder.master(master)
    # No UI port and few shuffle partitions: the job is small, and a test machine has two cores.
    return (
        builder.config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )


def main(argv: list[str] | None = None) -> int:
    ns = parse(argv)
    spark = session(ns.master)
    try:
        rows = run(spark, ns.extracts, ns.as_of, ns.output)
    finally:
        spark.stop()
    print(f"customer_features: {rows} rows written to {ns.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
