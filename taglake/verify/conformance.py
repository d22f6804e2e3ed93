"""Conformance: the SQL compiled for Athena or Redshift, run on the local lake, gives every mart the local build has.

For each mart (every enabled model under models/marts/, read from the manifest) and every model upstream of it,
staging included, the engine's compiled SELECT is translated to DuckDB (`taglake.verify.transpile.to_duckdb`), its
relation names rewritten to local ones, and run in DAG order into an in-memory schema. Raw sources become views
over the same raw files the local build reads (the local manifest's dbt-duckdb `external_location`), seeds are the local
build's seed tables. Each mart is then compared with the local build's own mart, row for row. Why staging and not a
later layer, and what this cannot check: docs/verification.md.
"""

from __future__ import annotations

import graphlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from taglake.verify import progress
from taglake.verify.offline_compile import CompiledNode, CompiledProject, load_compiled
from taglake.verify.transpile import relation_key, to_duckdb

ENGINE_SCHEMA = "engine_models"  # in-memory: the models built from the engine's SQL
SOURCE_SCHEMA = "engine_sources"  # in-memory: views over the raw files, standing for the Glue tables
FLOAT_DIGITS = 9  # floats are compared to this many significant digits; everything else exactly


@dataclass(frozen=True)
class MartComparison:
    """A mart built from an engine's SQL against the same mart of the local build. Counts only, never values."""

    mart: str
    engine: str
    native_rows: int
    engine_rows: int
    only_native: int
    only_engine: int
    columns_native: tuple[str, ...]
    columns_engine: tuple[str, ...]
    differing_columns: tuple[str, ...]

    @property
    def equal(self) -> bool:
        return self.columns_native == self.columns_engine and self.only_native == 0 and self.only_engine == 0

    def __str__(self) -> str:
        if self.equal:
            return f"{self.engine} {self.mart}: equal ({self.native_rows} rows)"
        if self.columns_native != self.columns_engine:
            return f"{self.engine} {self.mart}: columns differ: {self.columns_native} vs {self.columns_engine}"
        return (
            f"{self.engine} {self.mart}: {self.only_native} of {self.native_rows} local rows not produced, "
            f"{self.only_engine} of {self.engine_rows} rows extra; columns whose values differ: "
            f"{', '.join(self.differing_columns) or '(only row combinations)'}"
        )


def marts(compiled: CompiledProject) -> list[CompiledNode]:
    """Every enabled, materialised mart model, from the manifest: marts added later are covered with no change. A
    history (config full_refresh: false, e.g. the quality history the on-run-end hook appends to) is not: its table
    is what runs wrote, not what its SQL computes."""
    return sorted(
        (
            n
            for n in compiled.nodes.values()
            if n.resource_type == "model"
            and n.path.startswith("models/marts/")
            and n.materialized != "ephemeral"
            and not n.history
        ),
        key=short_name,
    )


def upstream_models(compiled: CompiledProject, roots: Iterable[CompiledNode]) -> list[CompiledNode]:
    """`roots` and every model they depend on, through ephemeral ones, in an order that builds parents first.
    Ephemeral models are left out: their SQL is already inlined where they are used."""
    needed: dict[str, CompiledNode] = {}
    pending = [n.unique_id for n in roots]
    while pending:
        uid = pending.pop()
        node = compiled.nodes.get(uid)
        if node is None or node.resource_type != "model" or uid in needed:
            continue
        needed[uid] = node
        pending.extend(node.depends_on)
    sorter = graphlib.TopologicalSorter({uid: [d for d in n.depends_on if d in needed] for uid, n in needed.items()})
    return [needed[uid] for uid in sorter.static_order() if needed[uid].materialized != "ephemeral"]


def run_conformance(
    compiled: CompiledProject,
    local_manifest: Path,
    duckdb_path: Path,
    *,
    only: Sequence[str] = (),
    upstream_too: bool = False,
    counter: progress.Counter | None = None,
) -> list[MartComparison]:
    """Build every mart (or those named in `only`) from the engine's compiled SQL on the local lake and compare each
        with the local build (`duckdb_path`, read only; `local_manifest` is that build's manifest.json). With
        `upstream_too`, every staging and intermediate model built on the way is compared as well. `counter` (progress)
    counts the models built."""
    local = load_compiled(local_manifest, "local", "duckdb")
    chosen = [m for m in marts(compiled) if not only or m.name in only or short_name(m) in only]
    con = duckdb.connect()
    try:
        con.execute(f"attach '{duckdb_path}' as \"{duckdb_path.stem}\" (read_only)")
        con.execute(f"create schema {ENGINE_SCHEMA}")
        con.execute(f"create schema {SOURCE_SCHEMA}")
        tables = _relation_map(con, compiled, local)
        built = upstream_models(compiled, chosen)
        if counter is not None:
            counter.expect(len(built), "models")
        for node in built:
            sql = to_duckdb(node.sql, compiled.engine, tables)
            con.execute(f"create table {_engine_table(node)} as {sql}")
            if counter is not None:
                counter.advance()
        compared = built if upstream_too else chosen
        return [_compare(con, local.nodes[m.unique_id].relation_name or "", m, compiled.engine) for m in compared]
    finally:
        con.close()


def _relation_map(con: duckdb.DuckDBPyConnection, compiled: CompiledProject, local: CompiledProject) -> dict[str, str]:
    """Engine relation → local relation: sources → views over the raw files, seeds and snapshots → the local
    build's tables (a snapshot's history is made by runs, not by a SELECT), models → the engine-built tables."""
    tables: dict[str, str] = {}
    for uid, relation in compiled.sources.items():
        view = f'{SOURCE_SCHEMA}."{uid.split(".", 2)[2].replace(".", "__")}"'
        local_source = local.sources[uid]
        # The engines name a row's file in the pseudo column "$path" (raw_file_path); the local reader in `filename`.
        has_file = "filename" in con.sql(f"select * from {local_source} limit 0").columns
        path = ', filename as "$path"' if has_file else ""
        con.execute(f"create view {view} as select *{path} from {local_source}")
        tables[relation_key(relation, compiled.engine)] = view
    for uid, node in compiled.nodes.items():
        if not node.relation_name:
            continue
        if node.resource_type in ("seed", "snapshot"):
            tables[relation_key(node.relation_name, compiled.engine)] = local.nodes[uid].relation_name or ""
        elif node.resource_type == "model" and node.materialized != "ephemeral":
            tables[relation_key(node.relation_name, compiled.engine)] = _engine_table(node)
    return tables


def _compare(con: duckdb.DuckDBPyConnection, native: str, mart: CompiledNode, engine: str) -> MartComparison:
    native_cols, native_rows = _fetch(con, native)
    # Columns by name, in the local mart's order: a contract orders the table's columns, not the SELECT's.
    engine_table = _engine_table(mart)
    engine_names = {c.lower() for c in con.sql(f"select * from {engine_table}").columns}
    if engine_names == set(native_cols):
        engine_cols, engine_rows = _fetch(con, engine_table, native_cols)
    else:
        engine_cols, engine_rows = _fetch(con, engine_table)
    a, b = Counter(native_rows), Counter(engine_rows)
    differing: list[str] = []
    if native_cols == engine_cols:
        for i, name in enumerate(native_cols):
            if Counter(r[i] for r in native_rows) != Counter(r[i] for r in engine_rows):
                differing.append(name)
    return MartComparison(
        mart=short_name(mart),
        engine=engine,
        native_rows=len(native_rows),
        engine_rows=len(engine_rows),
        only_native=sum((a - b).values()),
        only_engine=sum((b - a).values()),
        columns_native=native_cols,
        columns_engine=engine_cols,
        differing_columns=tuple(differing),
    )


def short_name(node: CompiledNode) -> str:
    """A model's name, with its version when it has one (`customer_tag_profile.v1`)."""
    return node.unique_id.split(".", 2)[2]


def _engine_table(node: CompiledNode) -> str:
    return f'{ENGINE_SCHEMA}."{short_name(node)}"'


def _fetch(
    con: duckdb.DuckDBPyConnection, relation: str, columns: Sequence[str] = ()
) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
    select = ", ".join(f'"{c}"' for c in columns) if columns else "*"
    rel = con.sql(f"select {select} from {relation}")
    return tuple(c.lower() for c in rel.columns), [tuple(_normal(v) for v in row) for row in rel.fetchall()]


def _normal(value: Any) -> Any:
    """A value as compared: a float to FLOAT_DIGITS significant digits (engines add in different orders); a decimal
    exactly, by value (scale aside: 1.50 = 1.5); everything else as it is."""
    if isinstance(value, float):
        return float(f"{value:.{FLOAT_DIGITS}g}")
    if isinstance(value, Decimal):
        return value.normalize()
    return value
