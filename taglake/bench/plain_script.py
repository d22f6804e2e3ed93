"""The full build as a plain DuckDB script (issue 16: the build "within 1.5× of a plain DuckDB script").

The script is the build's own writing statements, read back from the full build's dbt debug log
(taglake.bench.dbt_log): each model's, snapshot's and seed's statements that create, fill, rename or drop a table or
view, in the order dbt started them (a node starts after the nodes it reads, so the order is a valid one). It runs
in one new Python process with one DuckDB connection, one statement after another, against a new database file of
the build's name with the build's DuckDB settings (profiles.yml), then closes it (the last checkpoint). Left out is
everything the plain script would not have: dbt itself (start-up, parsing, compiling, its threads), the data tests,
the privacy guard's screens, introspection, comments, transactions. The SQL is the same, so the ratio full build /
plain script is what dbt, the tests and the guard add, not what the SQL costs.

After it runs, each table it wrote is compared with the build's (row count and a hash sum per column), leaving out
the tables the run's hooks wrote to after the models (the quality history). The script's file, its database and
its output stay in the run's folder, which the benchmark deletes unless it is kept; the SQL is compiled SQL, which
holds no personal data and no key (docs/privacy.md), and a failing statement is named by its node, never echoed.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import duckdb

from taglake.bench.dbt_log import LoggedStatement, logged_statements
from taglake.bench.process_measure import run_measured
from taglake.core.errors import TaglakeError


class PlainScriptError(TaglakeError):
    """The plain script did not run through (a statement failed, named by its node and error class)."""


# The one line run_script writes when a statement fails.
_FAILED = re.compile(r"plain script: statement (?P<index>\d+) of (?P<node>\S+) failed \((?P<cls>\w+)\)")
# The nodes whose statements write the build's tables.
WRITING_NODES = ("model", "snapshot", "seed")
_LEADING_NOISE = re.compile(r"^(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*", re.DOTALL)
_WRITES = re.compile(
    r"^(?:create\s+(?:or\s+replace\s+)?(?:temp(?:orary)?\s+)?(?:table|view)|copy|insert"
    r"|drop\s+(?:table|view)|alter\s+(?:table|view)\s+\S+\s+rename)\b",
    re.IGNORECASE,
)
# One part of a relation's name, quoted or not.
_NAME = r"(?:\"[^\"]+\"|\w+)"
# The relation a hook's statement writes: insert into / delete from / update / create table <relation>.
_HOOK_TARGET = re.compile(
    r"^(?:insert\s+into|delete\s+from|update|create\s+(?:or\s+replace\s+)?table(?:\s+if\s+not\s+exists)?)\s+"
    rf"({_NAME}(?:\s*\.\s*{_NAME})*)",
    re.IGNORECASE,
)
# A three-part relation (database.schema.table), its schema captured.
_SCHEMA_OF_RELATION = re.compile(rf"{_NAME}\s*\.\s*({_NAME})\s*\.\s*{_NAME}")


def _statement_start(sql: str) -> str:
    return _LEADING_NOISE.sub("", sql, count=1)


def writing_statements(statements: Iterable[LoggedStatement]) -> list[LoggedStatement]:
    """The statements of models, snapshots and seeds that create, fill, rename or drop a table or view."""
    return [s for s in statements if s.resource_type in WRITING_NODES and _WRITES.match(_statement_start(s.sql))]


def _schema_and_table(relation: str) -> tuple[str, str]:
    parts = [p.strip('"') for p in re.findall(_NAME, relation)]
    return (parts[-2] if len(parts) > 1 else "main").lower(), parts[-1].lower()


def hook_written_tables(statements: Iterable[LoggedStatement]) -> set[tuple[str, str]]:
    """(schema, table) of each table a statement outside the nodes wrote to (the run's hooks: the quality history)."""
    out: set[tuple[str, str]] = set()
    for s in statements:
        if "." in s.connection:
            continue
        target = _HOOK_TARGET.match(_statement_start(s.sql))
        if target:
            out.add(_schema_and_table(target.group(1)))
    return out


def write_script(statements: list[LoggedStatement], database: Path, settings: dict[str, str], script: Path) -> None:
    """The script to run: the database to create, DuckDB's settings, the schemas the statements write into and
    the statements with their nodes."""
    schemas: dict[str, None] = {}
    for s in statements:
        for schema in _SCHEMA_OF_RELATION.findall(s.sql):
            schemas.setdefault(schema.strip('"'), None)
    body = {
        "database": str(database),
        "settings": settings,
        "schemas": list(schemas),
        "statements": [{"node": s.connection, "sql": s.sql} for s in statements],
    }
    script.write_text(json.dumps(body, indent=1) + "\n", encoding="utf-8")


def run_script(script: Path) -> int:
    """Run a script written by write_script: 0, or 1 with one line naming the statement's node that failed."""
    body = json.loads(script.read_text(encoding="utf-8"))
    con = duckdb.connect(body["database"], config=body["settings"])
    try:
        for schema in body["schemas"]:
            con.execute(f'create schema if not exists "{schema}"')
        for index, statement in enumerate(body["statements"], start=1):
            try:
                con.execute(statement["sql"])
            except duckdb.Error as failed:  # the message may quote a value: named by its node and class only
                print(
                    f"plain script: statement {index} of {statement['node']} failed ({type(failed).__name__})",
                    file=sys.stderr,
                )
                return 1
    finally:
        con.close()
    return 0


def _table_sums(con: duckdb.DuckDBPyConnection, catalog: str, schema: str, table: str) -> tuple:
    return con.execute(f'select count(*), sum(hash(columns(*))) from "{catalog}"."{schema}"."{table}"').fetchone() or ()


def compare_tables(build_db: Path, plain_db: Path, leave_out: set[tuple[str, str]]) -> dict:
    """Each base table the plain script wrote against the build's (row count and per column a sum of hashes):
    the tables compared, those that differ or that the build lacks, and those left out (written by the hooks)."""
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"attach '{build_db}' as build (read_only)")
        con.execute(f"attach '{plain_db}' as plain (read_only)")
        tables = con.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = 'plain' and not temporary "
            "order by 1, 2"
        ).fetchall()
        built = set(
            con.execute("select schema_name, table_name from duckdb_tables() where database_name = 'build'").fetchall()
        )
        same, differ, left_out = [], [], []
        for schema, table in tables:
            name = f"{schema}.{table}"
            if (schema.lower(), table.lower()) in leave_out:
                left_out.append(name)
            elif (schema, table) not in built or _table_sums(con, "plain", schema, table) != _table_sums(
                con, "build", schema, table
            ):
                differ.append(name)
            else:
                same.append(name)
        return {"same": same, "differ": differ, "left_out": left_out}
    finally:
        con.close()


def measure_plain_script(
    full_build_log: Path, build_db: Path, folder: Path, settings: dict[str, str], *, env: dict[str, str]
) -> dict:
    """Write the full build's plain script under `folder`, run it in a new process (wall and CPU seconds, peak
    memory), compare its tables with the build's, then delete its database. Raises PlainScriptError naming the
    statement's node and error class when one fails (never its values)."""
    folder.mkdir(parents=True, exist_ok=False)
    statements = logged_statements(full_build_log)
    writes = writing_statements(statements)
    database = folder / build_db.name
    script = folder / "plain_script.json"
    write_script(writes, database, settings, script)
    out = folder / "plain_script.out"
    cmd = [sys.executable, "-m", "taglake.bench.plain_script", str(script)]
    code, wall, peak, cpu = run_measured(cmd, cwd=folder, env=env, log_file=out)
    if code != 0:
        said = out.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        failed = _FAILED.fullmatch(said[-1]) if said else None
        if failed:
            raise PlainScriptError(
                f"plain script: statement {failed['index']} of {failed['node']} failed ({failed['cls']}); "
                f"its script: {script}"
            )
        raise PlainScriptError(f"plain script failed with exit code {code}; its output: {out}")
    started = time.perf_counter()
    tables = compare_tables(build_db, database, hook_written_tables(statements))
    compare_seconds = time.perf_counter() - started
    shutil.rmtree(folder / f"{database.name}.tmp", ignore_errors=True)
    for leftover in folder.glob(f"{database.name}*"):
        if leftover.is_file():
            leftover.unlink()
    return {
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "peak_rss_bytes": peak,
        "statements": len(writes),
        "tables": tables,
        "compare_seconds": compare_seconds,
    }


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python -m taglake.bench.plain_script SCRIPT.json", file=sys.stderr)
        sys.exit(2)
    sys.exit(run_script(Path(sys.argv[1])))
