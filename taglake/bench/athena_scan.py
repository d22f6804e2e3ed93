"""The daily run's Athena cost, estimated offline (`taglake bench athena-cost`, `taglake bench build`).

From the compiled Athena SQL of a one-day run (taglake.verify.offline_compile with the window fixed: incremental
models take their incremental branch, reading the partitions from the window start on), per model: the tables and
partitions it reads (taglake.bench.athena_sql), the bytes Athena would scan, and what the queries cost
(taglake.ops.query.athena_cost_usd: USD 5 per TB, billed per MB, 10 MB minimum per query). docs/benchmarks.md has
the assumptions; in short:

- raw Parquet (cards.transactions, ml.*): only the columns read, each column's bytes per row measured from the
  lake's own Parquet column chunks; CSV and JSON lines: the whole files of the partitions read;
- a model's table (dbt-athena writes Parquet): the columns read, each column's bytes per row measured by writing
  the local DuckDB build's relation to Parquet (zstd), its rows from that build;
- at another scale (taglake.lake.generate.SCALES) a partition's bytes grow with the customers; a table with a
  `landing_date` column (one partition per landing day) with the customers and the days; other tables with the
  customers (an upper bound for aggregates, whose rows grow with neither); seeds do not grow;
- queries per model: the statement itself (`create table as`, or the incremental model's temporary table), then
  for an incremental model the write from that temporary table (its rows, every column; a merge also reads the
  target's key columns), and the privacy guard's sample (`limit`, billed the 10 MB minimum). Snapshots: the
  statement and a read of the snapshot table. Data tests: one query each. Unit tests are not in a daily run
  (taglake.ops.run_window.window_env leaves them out). Seeds, DDL and Lake Formation calls scan nothing.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from taglake.bench.athena_sql import RAW_PARTITION_COLUMNS, Schema, TableRead, table_reads
from taglake.core import targets
from taglake.core.artifacts import read_manifest
from taglake.core.project import Project
from taglake.core.sources import SourceTable, catalog_tables, project_var
from taglake.lake.generate import SCALES
from taglake.ops.query import BILLING_MB, BILLING_MINIMUM_MB, USD_PER_TB, athena_cost_usd
from taglake.verify.offline_compile import CompiledNode, CompiledProject

DAYS_PER_MONTH = 30
LANDING_COLUMN = "landing_date"


@dataclass
class RawTable:
    """A raw table as the lake holds it: per landing partition, its rows and bytes (per column for Parquet; the
    whole files for CSV and JSON lines, under the key "*")."""

    relation: str
    format: str
    partitions: dict[date, tuple[int, dict[str, int]]]  # landing date → (rows, column → bytes)

    def bytes_per_partition(self, columns: frozenset[str] | None, first: bool) -> float:
        """Mean bytes of the first partition (first=True) or of the later ones, for the columns read."""
        days = sorted(self.partitions)
        chosen = days[:1] if first else days[1:] or days[:1]
        sizes = [self._bytes(self.partitions[d][1], columns) for d in chosen]
        return sum(sizes) / len(sizes) if sizes else 0.0

    def _bytes(self, sizes: dict[str, int], columns: frozenset[str] | None) -> int:
        if self.format != "parquet" or columns is None:
            return sum(sizes.values())
        return sum(v for k, v in sizes.items() if k in columns)


@dataclass
class Relation:
    """A table dbt builds (or a seed): its rows and each column's Parquet bytes per row."""

    relation: str
    rows: int
    bytes_per_row: dict[str, float]
    kind: str  # model | snapshot | seed
    partitioned_by_landing: bool = False
    landing_days: int = 0  # distinct landing dates in the local build (0: no landing_date column)

    def bytes_for(self, columns: frozenset[str] | None, rows: float) -> float:
        widths = self.bytes_per_row.values() if columns is None else [self.bytes_per_row.get(c, 0.0) for c in columns]
        return rows * sum(widths)


@dataclass(frozen=True)
class Scale:
    """What the estimate is made for: customers and landing days of history (before the day the run adds)."""

    name: str
    customers: int
    days: int


@dataclass
class Query:
    what: str
    scanned_bytes: float

    @property
    def cost_usd(self) -> float:
        return athena_cost_usd(math.ceil(self.scanned_bytes))


@dataclass
class NodeEstimate:
    name: str
    resource_type: str
    materialized: str | None
    reads: list[dict] = field(default_factory=list)
    queries: list[Query] = field(default_factory=list)

    @property
    def scanned_bytes(self) -> float:
        return sum(q.scanned_bytes for q in self.queries)

    @property
    def cost_usd(self) -> float:
        return sum(q.cost_usd for q in self.queries)


# ---- measuring the lake and the local build ---------------------------------------------------------------------


def measure_raw(lake_dir: Path, tables: Iterable[SourceTable]) -> dict[str, RawTable]:
    """Each raw table's partitions in the lake: rows and bytes (Parquet column chunks, or whole files)."""
    out: dict[str, RawTable] = {}
    for table in tables:
        root = lake_dir / "raw" / table.raw_prefix / table.table
        partitions: dict[date, tuple[int, dict[str, int]]] = {}
        for folder in sorted(root.glob("year=*/month=*/day=*")):
            y, m, d = (int(p.split("=", 1)[1]) for p in folder.parts[-3:])
            rows, sizes = 0, {}
            for path in sorted(p for p in folder.iterdir() if p.is_file()):
                if table.format == "parquet":
                    file_rows, file_sizes = parquet_column_bytes(path)
                    rows += file_rows
                    for name, size in file_sizes.items():
                        sizes[name] = sizes.get(name, 0) + size
                else:
                    sizes["*"] = sizes.get("*", 0) + path.stat().st_size
                    with path.open("rb") as fh:
                        rows += sum(1 for _ in fh)
            partitions[date(y, m, d)] = (rows, sizes)
        out[f"{table.schema}.{table.table}"] = RawTable(f"{table.schema}.{table.table}", table.format, partitions)
    return out


def parquet_column_bytes(path: Path) -> tuple[int, dict[str, int]]:
    """A Parquet file's rows and each top-level column's compressed bytes (lower-cased names)."""
    meta = pq.ParquetFile(path).metadata
    sizes: dict[str, int] = {}
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        for c in range(group.num_columns):
            chunk = group.column(c)
            name = chunk.path_in_schema.split(".", 1)[0].lower()
            sizes[name] = sizes.get(name, 0) + chunk.total_compressed_size
    return meta.num_rows, sizes


def measure_relations(
    db_path: Path,
    compiled: CompiledProject,
    partitioned: dict[str, tuple[str, ...]],
    memory_limit: str | None = None,
) -> dict[str, Relation]:
    """Each model, snapshot and seed of `compiled` as the local DuckDB build holds it (by name): its rows, and
    each column's bytes per row once written as Parquet (zstd), as dbt-athena writes its tables. `memory_limit`:
    DuckDB's, as the build's (without it, copying a large build's tables out takes up to 80 % of the machine)."""
    kinds = {"model": "model", "snapshot": "snapshot", "seed": "seed"}
    wanted = {  # by table name: a versioned model's is `<name>_v<N>`, on both engines
        athena_relation(n).split(".")[-1]: (athena_relation(n), kinds[n.resource_type])
        for n in compiled.nodes.values()
        if n.resource_type in kinds and n.materialized not in ("ephemeral", "view") and n.relation_name
    }
    out: dict[str, Relation] = {}
    con = duckdb.connect(str(db_path), read_only=True, config={"memory_limit": memory_limit} if memory_limit else {})
    try:
        found = con.execute(
            "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE'"
        ).fetchall()
        with tempfile.TemporaryDirectory(prefix="taglake-athena-") as tmp:
            for schema, name in found:
                if name not in wanted:
                    continue
                relation, kind = wanted[name]
                path = Path(tmp) / f"{name}.parquet"
                con.execute(
                    f'copy (select * from "{schema}"."{name}") to \'{path}\' (format parquet, compression zstd)'
                )
                rows, sizes = parquet_column_bytes(path)
                path.unlink()
                # every column, also of an empty table (whose Parquet file has no column chunk)
                names = [r[0].lower() for r in con.execute(f'describe "{schema}"."{name}"').fetchall()]
                sizes = {n: sizes.get(n, 0) for n in names}
                landing_days = 0
                if LANDING_COLUMN in sizes:
                    [(landing_days,)] = con.execute(
                        f'select count(distinct {LANDING_COLUMN}) from "{schema}"."{name}"'
                    ).fetchall()
                out[relation] = Relation(
                    relation,
                    rows,
                    {k: v / rows if rows else 0.0 for k, v in sizes.items()},
                    kind,
                    partitioned_by_landing=partitioned.get(relation) == (LANDING_COLUMN,),
                    landing_days=landing_days,
                )
    finally:
        con.close()
    return out


def athena_relation(node: CompiledNode) -> str:
    """`schema.table` of a node's Athena relation name (`"awsdatacatalog"."schema"."table"`)."""
    parts = [p.strip('"').lower() for p in (node.relation_name or "").split(".")]
    return ".".join(parts[-2:])


def partitioned_relations(compiled: CompiledProject) -> dict[str, tuple[str, ...]]:
    """The relations Athena prunes by partition: the raw tables (year/month/day) and the models dbt-athena writes
    as Hive tables `partitioned_by` a column (from the compiled manifest)."""
    out = {f"{t.schema}.{t.table}": RAW_PARTITION_COLUMNS for t in catalog_tables().values() if t.partition_keys}
    for uid, node in read_manifest(compiled.manifest_path).nodes.items():
        by = getattr(node.config, "partitioned_by", None)
        if uid in compiled.nodes and by and (getattr(node.config, "table_type", None) or "hive") == "hive":
            out[athena_relation(compiled.nodes[uid])] = tuple(str(c).lower() for c in by)
    return out


def unique_keys(compiled: CompiledProject) -> dict[str, tuple[str, ...]]:
    """Each incremental model's unique key (a merge reads those columns of its whole table)."""
    out = {}
    for uid, node in read_manifest(compiled.manifest_path).nodes.items():
        key = getattr(node.config, "unique_key", None) if node.config is not None else None
        if uid in compiled.nodes and key:
            out[uid] = tuple([key] if isinstance(key, str) else key)
    return out


def restricted_relations() -> set[str]:
    """The restricted tables the build reads (the masking key): a few hundred bytes, counted as none."""
    return {f"{t.schema}.{t.table}" for t in catalog_tables().values() if t.restricted}


def schema_of(raw: dict[str, RawTable], relations: dict[str, Relation]) -> Schema:
    """The schema the SQL is qualified against: every raw table's declared columns and every relation's."""
    out: dict[str, dict[str, dict[str, str]]] = {}
    for t in catalog_tables().values():
        out.setdefault(t.schema, {})[t.table] = {c.name.lower(): "varchar" for c in t.columns}
    for name, rel in relations.items():
        schema, table = name.split(".")
        if not rel.bytes_per_row:
            continue
        out.setdefault(schema, {})[table] = {c: "varchar" for c in rel.bytes_per_row}
    return out


# ---- scaling ------------------------------------------------------------------------------------------------------


def scale_named(name: str) -> Scale:
    spec = SCALES[name]
    return Scale(name, spec.customers, spec.days)


@dataclass
class Estimator:
    """Bytes a read scans at `scale`, from what the lake (`lake`: its customers and landing days) measured."""

    raw: dict[str, RawTable]
    relations: dict[str, Relation]
    lake: Scale
    scale: Scale
    window_days: int  # landing partitions a window of the run reads (lookback + yesterday + today)

    @property
    def customers_ratio(self) -> float:
        return self.scale.customers / self.lake.customers

    def partitions(self, relation: str, since: date | None, run_day: date) -> int:
        """Landing partitions of a raw table read at the scale: from `since` on, or all. A table that lands every
        day has one a day; one that does not (model scores) one on the first day and the 1st of each month."""
        table = self.raw[relation]
        days = sorted(table.partitions)
        every_day = not days or len(days) >= (days[-1] - days[0]).days + 1
        first = run_day - timedelta(days=self.scale.days)
        start = first if since is None else max(since, first)
        span = [start + timedelta(days=i) for i in range((run_day - start).days + 1)]
        return len(span) if every_day else sum(1 for d in span if d == first or d.day == 1)

    def raw_bytes(self, read: TableRead, run_day: date) -> tuple[int, float]:
        """(partitions, bytes) of a raw table read at the scale."""
        table = self.raw[read.relation]
        n = self.partitions(read.relation, read.since, run_day)
        if n == 0:
            return 0, 0.0
        first = read.since is None  # every partition: the first (the initial extract) and the rest
        later = table.bytes_per_partition(read.columns, first=False)
        total = (table.bytes_per_partition(read.columns, first=True) + later * (n - 1)) if first else later * n
        return n, total * self.customers_ratio

    def rows(self, rel: Relation) -> float:
        if rel.kind == "seed":
            return float(rel.rows)
        if rel.landing_days:
            # rows per landing day of the lake's history (a monthly feed's too), times the scale's days
            return rel.rows * self.customers_ratio * (self.scale.days + 1) / self.lake.days
        return rel.rows * self.customers_ratio

    def relation_bytes(self, read: TableRead, run_day: date) -> tuple[int | None, float]:
        """(partitions or None, bytes) of a model's table read at the scale."""
        rel = self.relations[read.relation]
        rows = self.rows(rel)
        if rel.partitioned_by_landing and read.since is not None and rel.landing_days:
            n = (run_day - read.since).days + 1
            return n, rel.bytes_for(read.columns, rows * n / (self.scale.days + 1))
        partitions = (self.scale.days + 1) if rel.partitioned_by_landing else None
        return partitions, rel.bytes_for(read.columns, rows)

    def read(self, read: TableRead, run_day: date) -> dict:
        if read.relation in self.raw:
            n, scanned = self.raw_bytes(read, run_day)
            kind = self.raw[read.relation].format
        elif read.relation in self.relations:
            n, scanned = self.relation_bytes(read, run_day)
            kind = "table"
        elif read.relation in restricted_relations():
            n, scanned, kind = None, 0.0, "restricted key (a few hundred bytes)"
        else:
            n, scanned, kind = None, 0.0, "unknown"
        return {
            "relation": read.relation,
            "kind": kind,
            "columns": None if read.columns is None else sorted(read.columns),
            "since": read.since.isoformat() if read.since else None,
            "partitions": n,
            "bytes": scanned,
        }


# ---- the estimate ---------------------------------------------------------------------------------------------------


def estimate_nodes(
    compiled: CompiledProject,
    estimator: Estimator,
    run_day: date,
    partitioned: dict[str, tuple[str, ...]],
    schema: Schema,
    keys: dict[str, tuple[str, ...]] | None = None,
) -> list[NodeEstimate]:
    """Every model, snapshot and data test of the one-day run, with its queries and their bytes at the scale;
    `keys`: the incremental models' unique keys (default: from the compiled manifest). Unit tests are left out, as
    the daily run leaves them out."""
    if keys is None:
        keys = unique_keys(compiled)
    out: list[NodeEstimate] = []
    for node in sorted(compiled.nodes.values(), key=lambda n: (n.resource_type, n.name)):
        if node.resource_type not in ("model", "snapshot", "test") or node.materialized in ("ephemeral", "view"):
            continue
        if not node.sql.strip():
            continue
        est = NodeEstimate(node.name, node.resource_type, node.materialized)
        reads = [estimator.read(r, run_day) for r in table_reads(node.sql, schema, partitioned)]
        est.reads = reads
        est.queries.append(Query("statement", sum(r["bytes"] for r in reads)))
        me = estimator.relations.get(athena_relation(node)) if node.relation_name else None
        if node.resource_type == "model" and node.materialized == "incremental" and me is not None:
            window = estimator.window_days if me.landing_days else estimator.scale.days + 1
            new_rows = estimator.rows(me) * window / (estimator.scale.days + 1) if me.landing_days else 0.0
            written = me.bytes_for(None, new_rows) if me.landing_days else me.bytes_for(None, estimator.rows(me))
            est.queries.append(Query("write from the temporary table", written))
            key = keys.get(node.unique_id)
            if key and not me.partitioned_by_landing:
                est.queries.append(
                    Query("merge: the target's key columns", me.bytes_for(frozenset(key), estimator.rows(me)))
                )
        if node.resource_type == "snapshot" and me is not None:
            est.queries.append(Query("merge into the snapshot", me.bytes_for(None, estimator.rows(me))))
        if node.resource_type in ("model", "snapshot"):
            est.queries.append(Query("privacy guard sample (limit)", 0.0))
        out.append(est)
    return out


def summarize(nodes: list[NodeEstimate]) -> dict:
    def part(kind: str) -> dict:
        chosen = [n for n in nodes if n.resource_type == kind]
        return {
            "nodes": len(chosen),
            "queries": sum(len(n.queries) for n in chosen),
            "scanned_bytes": sum(n.scanned_bytes for n in chosen),
            "cost_usd": sum(n.cost_usd for n in chosen),
        }

    parts = {kind: part(kind) for kind in ("model", "snapshot", "test")}
    total_bytes = sum(p["scanned_bytes"] for p in parts.values())
    total_cost = sum(p["cost_usd"] for p in parts.values())
    return {
        "by_kind": parts,
        # reads whose SQL could not be qualified: every column of them counted (an upper bound)
        "unpruned_reads": sum(1 for n in nodes for r in n.reads if r["columns"] is None),
        "queries": sum(p["queries"] for p in parts.values()),
        "scanned_bytes_per_run": total_bytes,
        "cost_usd_per_run": total_cost,
        "cost_usd_per_month": total_cost * DAYS_PER_MONTH,
        "scanned_bytes_per_month": total_bytes * DAYS_PER_MONTH,
    }


def estimate(
    compiled: CompiledProject,
    *,
    lake_dir: Path,
    db_path: Path,
    run_day: date,
    scales: Iterable[Scale],
    memory_limit: str | None = None,
) -> dict:
    """The one-day run's Athena scan and cost at each scale, from its compiled SQL (`compiled`, compiled with the
    window of the day after `lake_dir`'s newest landing day), the lake and its local DuckDB build."""
    manifest = json.loads((lake_dir / "manifest.json").read_text(encoding="utf-8"))
    params = manifest["params"]
    lake = Scale("lake", int(params["customers"]), int(params["days"]) + int(params.get("appended_days", 0)))
    partitioned = partitioned_relations(compiled)
    raw = measure_raw(lake_dir, (t for t in catalog_tables().values() if not t.restricted))
    relations = measure_relations(db_path, compiled, partitioned, memory_limit)
    schema = schema_of(raw, relations)
    lookback = int(project_var("late_arrival_lookback_days"))
    window_days = lookback + 2
    out: dict = {
        "pricing": {"usd_per_tb": USD_PER_TB, "billing_mb": BILLING_MB, "minimum_mb": BILLING_MINIMUM_MB},
        "run_day": run_day.isoformat(),
        "window_days": window_days,
        "lake": {"customers": lake.customers, "days": lake.days},
        "scales": {},
    }
    for scale in scales:
        if scale.name == "lake":
            scale = lake
        estimator = Estimator(raw, relations, lake, scale, window_days)
        nodes = estimate_nodes(compiled, estimator, run_day, partitioned, schema)
        out["scales"][scale.name] = {
            "customers": scale.customers,
            "days": scale.days,
            "summary": summarize(nodes),
            "nodes": [
                {
                    "name": n.name,
                    "resource_type": n.resource_type,
                    "materialized": n.materialized,
                    "reads": n.reads,
                    "queries": [{"what": q.what, "bytes": q.scanned_bytes, "cost_usd": q.cost_usd} for q in n.queries],
                    "scanned_bytes": n.scanned_bytes,
                    "cost_usd": n.cost_usd,
                }
                for n in nodes
            ],
        }
    return out


def window_start(lake_dir: Path) -> tuple[date, date]:
    """(the run's day, the window start) of a one-day run after `lake_dir`'s newest landing day: the tables hold
    the newest day, the run adds the next; the window starts `late_arrival_lookback_days` before the newest."""
    params = json.loads((lake_dir / "manifest.json").read_text(encoding="utf-8"))["params"]
    newest = date.fromisoformat(params.get("last_date") or params["end_date"])
    lookback = int(project_var("late_arrival_lookback_days"))
    return newest + timedelta(days=1), newest - timedelta(days=lookback)


def run_athena_estimate(
    project: Project, *, lake_dir: Path, db_path: Path, work_dir: Path, scales: Iterable[str]
) -> dict:
    """Compile the one-day run for Athena offline (under `work_dir`) and estimate it at each scale name
    (small/medium/large, or "lake": the lake's own size)."""
    from taglake.verify.offline_compile import compile_project

    lake_dir = Path(lake_dir).resolve()
    if not (lake_dir / "manifest.json").is_file():
        raise FileNotFoundError(f"--lake {lake_dir}: no generated lake there (manifest.json missing)")
    if not Path(db_path).is_file():
        raise FileNotFoundError(f"{db_path}: no local build to measure the tables (run `taglake build` first)")
    run_day, since = window_start(lake_dir)
    compiled = compile_project(project, "athena", artifacts_dir=work_dir, window_start=since)
    chosen = [Scale("lake", 0, 0) if s == "lake" else scale_named(s) for s in scales]
    memory_limit = targets.duckdb_memory_limit(targets.DEFAULT_TARGET, project.root)  # the local build's
    return estimate(
        compiled, lake_dir=lake_dir, db_path=db_path, run_day=run_day, scales=chosen, memory_limit=memory_limit
    )


# ---- report ---------------------------------------------------------------------------------------------------------


def _mb(value: float) -> str:
    return f"{value / 2**20:,.1f}"


def format_athena_report(result: dict, *, top: int = 12) -> str:
    """Per scale: the models' partitions and bytes (the largest first), then the totals per run and per month."""
    from taglake.bench.masking import _table

    lines = [
        f"Athena, one daily run (run day {result['run_day']}, window {result['window_days']} landing days; "
        f"USD {result['pricing']['usd_per_tb']:g}/TB, per MB, {result['pricing']['minimum_mb']} MB minimum a query)"
    ]
    printed: dict[tuple[int, int], str] = {}  # a scale the size of one above (the large lake and "large") once
    for name, scale in result["scales"].items():
        s = scale["summary"]
        size = (scale["customers"], scale["days"])
        lines.append("")
        lines.append(f"scale {name}: {scale['customers']:,} customers, {scale['days']} days of history")
        if size in printed:
            lines[-1] += f": the size of scale {printed[size]}, the same estimate"
            continue
        printed[size] = name
        models = sorted(
            (n for n in scale["nodes"] if n["resource_type"] in ("model", "snapshot")),
            key=lambda n: -n["scanned_bytes"],
        )
        rows = []
        for n in models[:top]:
            parts = ", ".join(
                f"{r['relation'].split('.')[-1]} {r['partitions'] if r['partitions'] is not None else '-'}"
                for r in n["reads"]
                if r["partitions"] is not None
            )
            rows.append(
                [n["name"], parts or "-", _mb(n["scanned_bytes"]), str(len(n["queries"])), f"{n['cost_usd']:.4f}"]
            )
        lines.append(_table(["model (largest scans)", "partitions read", "MB scanned", "queries", "USD"], rows))
        kinds = [
            [k, str(v["nodes"]), str(v["queries"]), _mb(v["scanned_bytes"]), f"{v['cost_usd']:.4f}"]
            for k, v in s["by_kind"].items()
        ]
        lines.append(_table(["", "nodes", "queries", "MB scanned", "USD"], kinds))
        lines.append(
            f"per daily run: {_mb(s['scanned_bytes_per_run'])} MB scanned, {s['queries']} queries, "
            f"USD {s['cost_usd_per_run']:.2f}; per month ({DAYS_PER_MONTH} runs): "
            f"{s['scanned_bytes_per_month'] / 2**30:,.1f} GiB, USD {s['cost_usd_per_month']:.2f}"
        )
        if s["unpruned_reads"]:
            lines.append(f"({s['unpruned_reads']} reads not qualified: every column of them counted)")
    return "\n".join(lines)
