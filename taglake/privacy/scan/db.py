"""Leak scanner, relations: every text column of every table and view of a DuckDB build, matched in SQL.

The canaries go into temporary tables of the (read-only) connection and each column is matched with joins, so the
work is a few scans of the column however many canaries there are; no canary is ever written into SQL text (SQL
text ends up in error messages and logs).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import duckdb
import pyarrow as pa

from taglake.privacy.scan.match import (
    DEFAULT_HITS_PER_PLACE,
    Hit,
    Prepared,
    build_hits,
    new_salt,
    prepare,
    sql_word_keys,
)

# Column types whose values can hold text: VARCHAR (and its alias JSON), BLOB, ENUM, and nested types with any of
# them inside (scanned in their text form, so words and needles are found, whole-cell names are not).
_TEXT_TYPE = re.compile(r"\b(VARCHAR|JSON|BLOB)\b|^ENUM\(")


class ScanError(RuntimeError):
    """A relation could not be scanned. DuckDB's own message is withheld: it may quote the data."""


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _text_expr(column: str, data_type: str) -> str:
    col = _quote(column)
    if data_type == "VARCHAR":
        return col
    if data_type == "BLOB":
        return f"coalesce(try(decode({col})), cast({col} as varchar))"
    return f"cast({col} as varchar)"


def _load(con: duckdb.DuckDBPyConnection, name: str, column: str, values: Mapping[str, int]) -> bool:
    table = pa.table({column: pa.array(list(values), pa.string()), "gid": pa.array(list(values.values()), pa.int32())})
    con.register("scan_canary_src", table)
    try:
        con.execute(f"create or replace temp table {name} as select * from scan_canary_src")
    finally:
        con.unregister("scan_canary_src")
    return bool(values)


def _relation_sql(relation: str, exprs: list[str], *, words: bool, cells: bool, needles: bool) -> str:
    """One scan of a relation: its text columns unpivoted into (col, v) cells (NULLs dropped), each matched by the
    canary tables; rows (col, gid, n) with `col` the index of the column in `exprs`."""
    select = ", ".join(f"{expr} as c{i}" for i, expr in enumerate(exprs))
    on = ", ".join(f"c{i}" for i in range(len(exprs)))
    cells_cte = (
        f"with cells as (select cast(substr(col, 2) as integer) as col, v from "
        f"(unpivot (select {select} from {relation}) on {on} into name col value v)) "
    )
    parts = []
    if words:
        parts.append(
            f"select c.col, w.gid, count(*) as n from (select col, unnest({sql_word_keys('v')}) as word "
            "from cells) as c join scan_words as w on c.word = w.word group by c.col, w.gid"
        )
    if cells:
        # Canary cells are trimmed; trimming every cell costs more than the join, so only padded cells are trimmed.
        parts.append(
            "select c.col, e.gid, count(*) as n from cells as c join scan_cells as e on c.v = e.cell "
            "group by c.col, e.gid"
        )
        parts.append(
            "select c.col, e.gid, count(*) as n from (select col, trim(v) as v from cells "
            "where v like ' %' or v like '% ') as c join scan_cells as e on c.v = e.cell group by c.col, e.gid"
        )
    if needles:
        parts.append(
            "select c.col, s.gid, count(*) as n from (select col, lower(v) as v from cells) as c "
            "join scan_needles as s on contains(c.v, s.needle) group by c.col, s.gid"
        )
    return cells_cte + " union all ".join(parts)


# Columns unpivoted in one query: wide enough that a relation is a query or two, narrow enough to plan quickly.
_COLUMNS_PER_QUERY = 64


def scan_duckdb(
    db_path: Path,
    canaries: Mapping[str, Iterable[str]] | Prepared,
    *,
    schemas_like: str = "%",
    salt: bytes | None = None,
    hits_per_place: int = DEFAULT_HITS_PER_PLACE,
) -> list[Hit]:
    """Clear canaries in every text column of every table and view whose schema is LIKE `schemas_like`.

    Per kind: national IDs, mobiles and e-mail addresses are found as whole words anywhere in a cell (a whole cell,
    or inside a longer text such as a raw JSON line; see taglake.privacy.scan.match); names, and mobiles in spellings
    the word rule does not know, as whole cells; key material (and IDs or addresses in unknown spellings) as
    case-insensitive substrings. A hit's count is the number of cells holding the value. The database is opened
    read-only; a relation that cannot be read raises ScanError.
    """
    prepared = canaries if isinstance(canaries, Prepared) else prepare(canaries)
    salt = salt if salt is not None else new_salt()
    found: dict[tuple[str, int], int] = {}
    with duckdb.connect(str(db_path), read_only=True) as con:
        columns = con.execute(
            """
            select schema_name, table_name, column_name, data_type
            from duckdb_columns()
            where database_name = current_database() and not internal and schema_name like ?
            order by schema_name, table_name, column_index
            """,
            [schemas_like],
        ).fetchall()
        words = _load(con, "scan_words", "word", prepared.words)
        cells = _load(con, "scan_cells", "cell", prepared.cells)
        needles = _load(con, "scan_needles", "needle", prepared.needles)
        if not (words or cells or needles):
            return []
        groups: dict[tuple[str, str, bool], list[tuple[str, str]]] = {}
        for schema, table, column, data_type in columns:
            if _TEXT_TYPE.search(data_type):
                # a nested value is scanned in its text form: words and needles, never a whole cell
                nested = "[" in data_type or data_type.startswith(("STRUCT", "MAP", "UNION"))
                groups.setdefault((schema, table, nested), []).append((column, data_type))
        for (schema, table, nested), text_columns in groups.items():
            relation = f"{_quote(schema)}.{_quote(table)}"
            for first in range(0, len(text_columns), _COLUMNS_PER_QUERY):
                chunk = text_columns[first : first + _COLUMNS_PER_QUERY]
                exprs = [_text_expr(column, data_type) for column, data_type in chunk]
                sql = _relation_sql(relation, exprs, words=words, cells=cells and not nested, needles=needles)
                try:
                    rows = con.execute(sql).fetchall()
                except duckdb.Error as exc:
                    where = f"relation {schema}.{table}" + (
                        f".{chunk[0][0]}" if len(chunk) == 1 else f" ({len(chunk)} text columns)"
                    )
                    raise ScanError(f"{where}: DuckDB could not scan it ({type(exc).__name__})") from None
                for col, gid, n in rows:
                    where = f"relation {schema}.{table}.{chunk[col][0]}"
                    found[(where, gid)] = found.get((where, gid), 0) + n
    return build_hits(found, prepared, salt, hits_per_place=hits_per_place)
