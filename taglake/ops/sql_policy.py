"""What user SQL may be: checked as data (parsed), never by running any of it.

- Jinja in ad hoc SQL is not run: the only form allowed is `{{ ref('<model>') }}` (optionally `v=N`) of a
  consumption model — a mart, or a reference seed — and it is replaced by that relation's name from a fixed mapping
  (the model files under models/marts/ and seeds/, and the versions their YAML declares). `source()`, `run_query`,
  `env_var`, `var`, statements and comments are refused, so nothing of the project's Jinja context is reachable.
- On DuckDB, exactly one statement, and a SELECT (DuckDB's own parser says which); the locked connection
  (taglake.ops.consumption) is what actually keeps it inside the consumption relations.
- On Athena, exactly one read-only query (sqlglot, dialect athena), every table in `<schema>_marts` or
  `<schema>_reference` (or unqualified: the query runs in `<schema>_marts`), no table functions, no raw, staging,
  intermediate, snapshot, vault or key relation by any spelling. The enforcement in AWS is Lake Formation and the
  analysts' workgroup (docs/deployment.md); this check stops a mistake before it is billed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from taglake.core.errors import Refused


class QueryRefused(Refused, ValueError):
    """The SQL may not run on this target."""


CONSUMPTION_LAYERS = ("marts", "reference")

# ---- Jinja: only {{ ref('x') }} / {{ ref('x', v=1) }} ----------------------------------------------------------

_REF = re.compile(
    r"""\{\{-?\s*ref\(\s*(?P<q>['"])(?P<name>[a-z][a-z0-9_]{0,120})(?P=q)\s*"""
    r"""(?:,\s*(?:v|version)\s*=\s*(?P<vq>['"]?)(?P<version>[0-9]{1,4})(?P=vq)\s*)?\)\s*-?\}\}"""
)
_JINJA_MARK = re.compile(r"\{\{|\{%|\{#|\}\}|%\}|#\}")
JINJA_REFUSED = (
    "ad hoc SQL may hold Jinja only as {{ ref('<mart or reference model>') }} (or ref('<model>', v=N)); "
    "source(), run_query, env_var, var and every other Jinja are refused: name the relation instead"
)


def has_jinja(sql: str) -> bool:
    return _JINJA_MARK.search(sql) is not None


def expand_refs(sql: str, resolve: Callable[[str, int | None], str]) -> str:
    """Replace each `{{ ref('name'[, v=N]) }}` by `resolve(name, N)`; refuse any other Jinja."""
    expanded = _REF.sub(lambda m: resolve(m["name"], int(m["version"]) if m["version"] else None), sql)
    if has_jinja(expanded):
        raise QueryRefused(JINJA_REFUSED)
    return expanded


@dataclass(frozen=True)
class ConsumptionModels:
    """The models a ref() in ad hoc SQL may name: each mart (alias by version) and each reference seed."""

    marts: frozenset[str]  # unversioned mart models (name = alias)
    versions: dict[str, tuple[int, frozenset[int]]]  # versioned mart model → (latest version, versions)
    seeds: frozenset[str]

    def layer_and_alias(self, name: str, version: int | None) -> tuple[str, str]:
        if name in self.versions:
            latest, known = self.versions[name]
            chosen = latest if version is None else version
            if chosen not in known:
                raise QueryRefused("a ref() asks for a version its model does not have: see the model's YAML")
            return "marts", f"{name}_v{chosen}"
        if version is not None:
            raise QueryRefused("a ref() gives v= for a model that has no versions")
        if name in self.marts:
            return "marts", name
        if name in self.seeds:
            return "reference", name
        raise QueryRefused(
            "a ref() in ad hoc SQL names a model that is not a mart or a reference seed: only those are reachable"
        )


def consumption_models(root: Path) -> ConsumptionModels:
    """Read the mapping from the project's files: models/marts/**/*.sql, their YAML's `versions`, seeds/**/*.csv."""
    versions: dict[str, tuple[int, frozenset[int]]] = {}
    for path in sorted((root / "models" / "marts").rglob("*.yml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for model in doc.get("models") or []:
            declared = [int(v["v"]) for v in model.get("versions") or []]
            if declared:
                versions[model["name"]] = (int(model.get("latest_version", max(declared))), frozenset(declared))
    versioned_files = {f"{name}_v{v}" for name, (_, known) in versions.items() for v in known}
    stems = {p.stem for p in (root / "models" / "marts").rglob("*.sql")}
    seeds = frozenset(p.stem for p in (root / "seeds").rglob("*.csv"))
    return ConsumptionModels(marts=frozenset(stems - versioned_files), versions=versions, seeds=seeds)


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def ref_resolver(
    models: ConsumptionModels, schema: str, catalog: str | None = None
) -> Callable[[str, int | None], str]:
    """ref(name, v) → `[catalog.]"<schema>_<layer>"."<alias>"`."""

    def resolve(name: str, version: int | None) -> str:
        layer, alias = models.layer_and_alias(name, version)
        parts = [catalog] if catalog else []
        return ".".join(_quote(p) for p in [*parts, f"{schema}_{layer}", alias])

    return resolve


# ---- DuckDB: one SELECT -------------------------------------------------------------------------------------------


def check_duckdb_select(sql: str) -> None:
    """Exactly one statement, and DuckDB parses it as a SELECT (select, with …, from …, values, describe, …)."""
    import duckdb

    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error:
        raise QueryRefused("the SQL does not parse (DuckDB): check its syntax") from None
    if len(statements) != 1:
        raise QueryRefused(f"give exactly one statement, not {len(statements)}")
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise QueryRefused(
            f"only a read-only query may run (select, with …, from …), not a {kind.name} statement: no ATTACH, COPY, "
            "SET, PRAGMA, INSTALL, LOAD, EXPORT, CREATE or CALL"
        )


# ---- Athena: one read-only query over the marts and reference ------------------------------------------------------

ATHENA_CATALOG = "awsdatacatalog"
# Relations never reachable from a user query, by any spelling (compared in lower case, each name part alone).
FORBIDDEN_ATHENA_NAME = re.compile(
    r"^(raw_.*|.*_staging|.*_intermediate|.*_snapshots|.*_vault|restricted_keys|masking_keys|information_schema)$"
)


@contextmanager
def _quiet_sqlglot() -> Iterator[None]:
    """sqlglot logs a warning quoting the SQL when it falls back to a raw Command: keep SQL off the console."""
    logger = logging.getLogger("sqlglot")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def check_athena_sql(sql: str, schema: str | None) -> None:
    """Refuse anything but one read-only query whose every table is a consumption relation (see module doc)."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    with _quiet_sqlglot():
        try:
            statements = [s for s in sqlglot.parse(sql, read="athena") if s is not None]
        except SqlglotError:
            raise QueryRefused("the SQL does not parse as Athena SQL: check its syntax") from None
    if len(statements) != 1:
        raise QueryRefused(f"give exactly one statement, not {len(statements)}")
    (statement,) = statements
    if not isinstance(statement, exp.Query) or any(
        isinstance(node, (exp.DDL, exp.DML, exp.Command, exp.Into, exp.Set, exp.Use)) for node in statement.walk()
    ):
        raise QueryRefused(
            "only one read-only query may run on Athena (select, with …, union …): no UNLOAD, CREATE TABLE AS, "
            "INSERT, MERGE, DDL or other statement"
        )
    allowed = {f"{schema}_{layer}".lower() for layer in CONSUMPTION_LAYERS} if schema else None
    for table in statement.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            raise QueryRefused("table functions are refused on Athena: read the marts and reference tables by name")
        parts = [p.lower() for p in (table.catalog, table.db, table.name) if p]
        if any(FORBIDDEN_ATHENA_NAME.match(p) for p in parts):
            raise QueryRefused(
                "the SQL names a raw, staging, intermediate, snapshot, vault or key relation: only the marts and "
                "reference databases are reachable"
            )
        catalog, db = table.catalog.lower(), table.db.lower()
        if not db:
            continue  # a CTE, or a table of the marts database the query runs in
        if catalog and catalog != ATHENA_CATALOG:
            raise QueryRefused(f"only the {ATHENA_CATALOG} catalog is reachable")
        if allowed is not None and db not in allowed:
            raise QueryRefused(f"every table must be in {' or '.join(sorted(allowed))} (or unqualified)")
        if allowed is None and not db.endswith(tuple(f"_{layer}" for layer in CONSUMPTION_LAYERS)):
            raise QueryRefused("every table must be in a *_marts or *_reference database (or unqualified)")
