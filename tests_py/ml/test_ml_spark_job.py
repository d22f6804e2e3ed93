"""The PySpark job (jobs/spark/, the EMR stand-in) over the masked extracts of the session's small build: what it
computes, and that Spark sees only masked values — none of the raw zone's clear values (the leak scanner's
canaries) and no key material in anything it can read or writes, and no personal-data shape.

One JVM for the module: the job runs once, as a subprocess of the PySpark venv's Python (local[2]), and every test
reads what that run left behind.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from taglake.core.project import Project
from taglake.ml import export
from taglake.privacy import patterns
from taglake.privacy.scan.canaries import collect_canaries
from taglake.privacy.scan.scanner import scan

pytestmark = [pytest.mark.spark, pytest.mark.dbt]

ROOT = Path(__file__).resolve().parents[2]
JOB = ROOT / "jobs" / "spark" / "customer_features.py"


def pyspark_venv() -> Path:
    """The PySpark venv (and Java), made on first use and reused after: what `make venv-pyspark` prints."""
    done = subprocess.run(
        ["make", "-s", "--no-print-directory", "venv-pyspark"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return Path(done.stdout.strip().splitlines()[-1])


@dataclass(frozen=True)
class SparkRun:
    project: Project
    extracts: Path  # everything the job is given to read
    output: Path  # everything it wrote
    logs: Path  # its stdout and stderr
    as_of: dt.date
    exported: list[export.Exported]


def _parquet_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.parquet") if p.is_file())


def _load(db: Path, folders: dict[str, Path]) -> None:
    """Each folder's Parquet files as one table of a DuckDB file (what the scanner reads)."""
    con = duckdb.connect(str(db))
    try:
        for name, folder in folders.items():
            for i, f in enumerate(_parquet_files(folder)):
                con.execute(f"create table {name}_{i} as select * from read_parquet('{f}')")
    finally:
        con.close()


@pytest.fixture(scope="module")
def spark_run(built_project: Project, tmp_path_factory: pytest.TempPathFactory) -> SparkRun:
    work = tmp_path_factory.mktemp("spark")
    relations = export.role_relations(built_project.target_path / "manifest.json", "data_scientist", ROOT)
    as_of = export.build_as_of(built_project.duckdb_path, relations)
    exported = export.export_relations(built_project.duckdb_path, relations, work / "consumption", as_of)
    extracts = work / "consumption" / export.EXTRACTS_PREFIX / "features"
    output = work / "consumption" / "features" / "customer_spend_features"
    logs = work / "logs"
    logs.mkdir()
    venv = pyspark_venv()
    with (logs / "stdout.txt").open("w") as out, (logs / "stderr.txt").open("w") as err:
        done = subprocess.run(
            [str(venv / "bin" / "python"), str(JOB), "--master", "local[2]", "--extracts", str(extracts),
             "--as-of", as_of.isoformat(), "--output", str(output)],
            cwd=work, stdout=out, stderr=err, timeout=300,
            env={"PATH": "/usr/bin:/bin", "HOME": str(work), "SPARK_LOCAL_DIRS": str(work / "spark-local"),
                 "PYSPARK_PYTHON": str(venv / "bin" / "python")},
        )  # fmt: skip
    assert done.returncode == 0, (logs / "stderr.txt").read_text()[-3000:]
    return SparkRun(built_project, extracts, output, logs, as_of, exported)


def test_the_export_writes_the_data_scientists_marts_in_the_extracts_layout(spark_run: SparkRun) -> None:
    names = {e.relation.name for e in spark_run.exported}
    assert names == {"customer_training_features_v1", "fct_customer_monthly_metrics"}
    for e in spark_run.exported:
        expected = f"extracts/features/{e.relation.name}/as_of_date={spark_run.as_of.isoformat()}/part-00000.parquet"
        assert e.path.as_posix().endswith(expected)
        assert pq.ParquetFile(e.path).metadata.num_rows == e.rows > 0


def test_the_spark_job_writes_one_feature_row_per_customer_with_spend_aggregates(spark_run: SparkRun) -> None:
    out = pa.concat_tables([pq.read_table(f) for f in _parquet_files(spark_run.output)])
    training = pq.read_table(next(e.path for e in spark_run.exported if e.relation.name.startswith("customer_train")))
    monthly = pq.read_table(next(e.path for e in spark_run.exported if e.relation.name.startswith("fct_customer")))
    assert sorted(out.column("customer_token").to_pylist()) == sorted(training.column("customer_token").to_pylist())
    assert {"active_months", "spend_total_twd", "spend_monthly_avg_twd", "spend_last_3m_twd"} <= set(out.column_names)
    # The aggregates agree with the same sums computed here, customer by customer.
    con = duckdb.connect()
    try:
        con.register("out_t", out)
        con.register("monthly_t", monthly)
        mismatched = con.execute(
            """
            select count(*) from out_t o
            left join (select customer_token, count(distinct spend_month) as n, sum(coalesce(spend_twd, 0)) as s
                       from monthly_t group by 1) m using (customer_token)
            where o.active_months != coalesce(m.n, 0) or abs(o.spend_total_twd - coalesce(m.s, 0)) > 0.01
            """
        ).fetchone()
    finally:
        con.close()
    assert mismatched == (0,)
    assert any(out.column("active_months").to_pylist())  # the small lake has card spend: not all zeros


def test_spark_reads_and_writes_no_clear_value_and_no_key_material(spark_run: SparkRun, tmp_path: Path) -> None:
    db = tmp_path / "spark_seen.duckdb"
    _load(db, {"read": spark_run.extracts, "written": spark_run.output})
    hits = scan(
        spark_run.project.lake_dir,
        db_path=db,
        folders=[spark_run.extracts, spark_run.output, spark_run.logs],
        key_file=spark_run.project.key_file,
    )
    assert hits == [], [(h.place, h.kind, h.count) for h in hits]


def test_spark_reads_and_writes_no_personal_data_shape(spark_run: SparkRun) -> None:
    found: list[tuple[str, str]] = []
    for f in _parquet_files(spark_run.extracts) + _parquet_files(spark_run.output):
        table = pq.read_table(f)
        for name in table.column_names:
            if pa.types.is_string(table.schema.field(name).type) or pa.types.is_large_string(
                table.schema.field(name).type
            ):
                found += [(f.name, name) for v in set(table.column(name).to_pylist()) if v and patterns.find(v)]
    for log in spark_run.logs.iterdir():
        found += [(log.name, "line") for line in log.read_text().splitlines() if patterns.find(line)]
    assert found == []


@pytest.mark.redteam
def test_the_leak_check_finds_a_raw_national_id_planted_in_what_spark_reads(
    spark_run: SparkRun, tmp_path: Path
) -> None:
    """The check above can fail: an extract with one raw value in it (any spelling the scanner knows) is caught."""
    planted = tmp_path / "extracts"
    shutil.copytree(spark_run.extracts, planted)
    raw_id = sorted(collect_canaries(spark_run.project.lake_dir)["national_id"])[0]
    victim = _parquet_files(planted)[0]
    table = pq.read_table(victim)
    table = table.append_column("note", pa.array([f"ｉｄ {raw_id.lower()}"] + [None] * (table.num_rows - 1)))
    pq.write_table(table, victim)
    db = tmp_path / "planted.duckdb"
    _load(db, {"read": planted})
    hits = scan(spark_run.project.lake_dir, db_path=db, folders=[], key_file=spark_run.project.key_file)
    assert [h.kind for h in hits] == ["national_id"]
