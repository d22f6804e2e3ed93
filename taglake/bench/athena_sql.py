"""What a compiled Athena statement reads: per table, the columns and the landing partitions (sqlglot).

Used by the daily Athena cost estimate (taglake.bench.athena_scan, docs/benchmarks.md). The statement is parsed in
Athena's dialect, qualified against the schema given (stars expanded, every column bound to its table) and its
unused projections pushed down, as Athena's planner prunes them; then each column is followed through CTEs and
subqueries to the table it comes from. What is read from a table:

- columns: every column of it any scope still refers to (a `count(*)` reads none); None when the statement could
  not be qualified (then every column is assumed read: an upper bound);
- partitions: the lower bound of a predicate, in a WHERE joined by AND only, on its partition columns: for the raw
  tables `year > Y or (year = Y and (month > M or (month = M and day >= D)))` (raw_partitions_since,
  macros/incremental/landing_window.sql), for a table partitioned by `landing_date`, `landing_date >= <date>` (also
  through CTEs and subqueries, as Athena pushes such predicates down). No such predicate on some reference of the
  table: every partition is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.pushdown_projections import pushdown_projections
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, traverse_scope

DIALECT = "athena"
RAW_PARTITION_COLUMNS = ("year", "month", "day")

# schema name → table name → column name → type (any type string: only the names matter here)
Schema = Mapping[str, Mapping[str, Mapping[str, str]]]


@dataclass(frozen=True)
class TableRead:
    """What one statement reads of one table: `relation` is `schema.table`."""

    relation: str
    columns: frozenset[str] | None  # None: not known, every column
    since: date | None  # the oldest landing partition read; None: every partition


def relation_of(table: exp.Table) -> str:
    """`schema.table` of a table reference (the catalog left out), lower case."""
    return f"{table.db}.{table.name}".lower() if table.db else table.name.lower()


def table_reads(sql: str, schema: Schema, partitioned: Mapping[str, tuple[str, ...]] | None = None) -> list[TableRead]:
    """Per table the statement reads (sorted by relation): its columns and oldest partition. `partitioned` maps a
    relation to its partition columns (year/month/day or landing_date); others have no partitions."""
    partitioned = partitioned or {}
    parsed = sqlglot.parse_one(sql, read=DIALECT)
    try:
        tree = pushdown_projections(
            qualify(
                parsed,
                schema={"awsdatacatalog": {s: dict(t) for s, t in schema.items()}},
                dialect=DIALECT,
                catalog="awsdatacatalog",
                validate_qualify_columns=False,
                identify=False,
            )
        )
        scopes = traverse_scope(tree)
    except (SqlglotError, KeyError, ValueError):
        return _unqualified_reads(parsed, partitioned)
    columns: dict[int, set[str]] = {}
    tables: dict[int, exp.Table] = {}
    for scope in scopes:
        for source in scope.sources.values():
            if isinstance(source, exp.Table):
                tables[id(source)] = source
                columns.setdefault(id(source), set())
        for column in scope.columns:
            source = scope.sources.get(column.table)
            if isinstance(source, exp.Table):
                columns[id(source)].add(column.name.lower())
    bounds = _partition_bounds(scopes, partitioned)
    return _merge(
        (relation_of(t), frozenset(columns[key]), bounds.get(key) if relation_of(t) in partitioned else None)
        for key, t in tables.items()
    )


def _merge(reads: object) -> list[TableRead]:
    """One TableRead per relation: the union of the columns, the oldest partition (None wins)."""
    merged: dict[str, TableRead] = {}
    for relation, cols, since in reads:  # type: ignore[attr-defined]
        old = merged.get(relation)
        if old is None:
            merged[relation] = TableRead(relation, cols, since)
            continue
        union = None if old.columns is None or cols is None else old.columns | cols
        oldest = None if old.since is None or since is None else min(old.since, since)
        merged[relation] = TableRead(relation, union, oldest)
    return [merged[r] for r in sorted(merged)]


def _unqualified_reads(parsed: exp.Expression, partitioned: Mapping[str, tuple[str, ...]]) -> list[TableRead]:
    """The tables of a statement that could not be qualified: every column, every partition (an upper bound)."""
    ctes = {cte.alias_or_name.lower() for cte in parsed.find_all(exp.CTE)}
    tables = [t for t in parsed.find_all(exp.Table) if t.db or t.name.lower() not in ctes]
    return _merge((relation_of(t), None, None) for t in tables)


def _conjuncts(where: exp.Where) -> list[exp.Expression]:
    """The terms of a WHERE joined by AND (a term under OR or NOT is not a bound)."""
    out, todo = [], [where.this]
    while todo:
        node = todo.pop()
        if isinstance(node, exp.And):
            todo += [node.left, node.right]
        elif isinstance(node, exp.Paren):
            todo.append(node.this)
        else:
            out.append(node)
    return out


def _trace(scope: Scope, column: exp.Column) -> tuple[exp.Table, str] | None:
    """The table and column a column of a scope comes from, through CTEs and subqueries that pass it unchanged."""
    source = scope.sources.get(column.table)
    if isinstance(source, exp.Table):
        return source, column.name.lower()
    if isinstance(source, Scope) and isinstance(source.expression, exp.Select):
        for projection in source.expression.selects:
            if projection.alias_or_name.lower() == column.name.lower():
                inner = projection.this if isinstance(projection, exp.Alias) else projection
                if isinstance(inner, exp.Column):
                    return _trace(source, inner)
                return None
    return None


def _literal_date(node: exp.Expression) -> date | None:
    """A date written as YYYYMMDD (an integer), a 'YYYY-MM-DD' string, or either cast to a date."""
    while isinstance(node, exp.Cast | exp.TsOrDsToDate | exp.Paren):
        node = node.this
    if isinstance(node, exp.Literal):
        text = node.name.strip()
        for shape in ("%Y%m%d", "%Y-%m-%d"):
            try:
                return datetime.strptime(text, shape).date()
            except ValueError:
                continue
    return None


def _bare(node: exp.Expression) -> exp.Expression:
    while isinstance(node, exp.Paren):
        node = node.this
    return node


def _column_against_int(node: exp.Expression, kind: type[exp.Expression], name: str) -> tuple[exp.Column, int] | None:
    """`name <op> <integer>` (op: the comparison `kind`): the column and the integer, else None."""
    node = _bare(node)
    if not (isinstance(node, kind) and isinstance(node.this, exp.Column) and node.this.name.lower() == name):
        return None
    value = node.expression
    if not (isinstance(value, exp.Literal) and value.is_int):
        return None
    return node.this, int(value.name)


def _raw_partition_start(node: exp.Expression) -> tuple[list[exp.Column], date] | None:
    """The year, month and day columns and the first day of raw_partitions_since's predicate
    (macros/incremental/landing_window.sql): `year > Y or (year = Y and (month > M or (month = M and day >= D)))`."""

    def level(node: exp.Expression, names: tuple[str, ...]) -> tuple[list[exp.Column], list[int]] | None:
        if len(names) == 1:
            last = _column_against_int(node, exp.GTE, names[0])
            return ([last[0]], [last[1]]) if last else None
        node = _bare(node)
        if not isinstance(node, exp.Or):
            return None
        above, same_part = _column_against_int(node.this, exp.GT, names[0]), _bare(node.expression)
        if above is None or not isinstance(same_part, exp.And):
            return None
        same, rest = _column_against_int(same_part.this, exp.EQ, names[0]), level(same_part.expression, names[1:])
        if same is None or rest is None or same[1] != above[1]:
            return None
        return [above[0], *rest[0]], [above[1], *rest[1]]

    found = level(node, RAW_PARTITION_COLUMNS)
    if found is None:
        return None
    columns, (year, month, day) = found
    try:
        return columns, date(year, month, day)
    except ValueError:
        return None


def _partition_bounds(scopes: list[Scope], partitioned: Mapping[str, tuple[str, ...]]) -> dict[int, date]:
    """Per table reference (by id), the newest lower bound on its partition columns found in the statement."""
    bounds: dict[int, date] = {}
    for scope in scopes:
        where = scope.expression.args.get("where") if isinstance(scope.expression, exp.Select) else None
        if where is None:
            continue
        for term in _conjuncts(where):
            raw = _raw_partition_start(term)
            if raw is not None:
                columns, since = raw
            elif isinstance(term, exp.GTE | exp.GT | exp.EQ) and isinstance(term.this, exp.Column):
                columns, since = [term.this], _literal_date(term.expression)
                if since is None:
                    continue
            else:
                continue
            traced = [_trace(scope, c) for c in columns]
            if not traced or any(t is None for t in traced):
                continue
            tables = {id(t[0]) for t in traced if t}
            names = tuple(t[1] for t in traced if t)
            table = traced[0][0] if traced[0] else None
            if len(tables) != 1 or table is None or partitioned.get(relation_of(table)) != names:
                continue
            key = id(table)
            bounds[key] = max(bounds.get(key, since), since)
    return bounds
