"""What user SQL may be: checked as data (parsed), never by running any of it.

The consumption layers — what people may read at all — are the access declaration's
(`vars.access.consumption_layers` in dbt_project.yml, read through taglake.privacy.access_policy, the same
declaration the grants and Lake Formation policies are generated from): marts, reference seeds and snapshots today.

- Jinja in ad hoc SQL is not run: the only form allowed is `{{ ref('<model>') }}` (optionally `v=N`) of a model of
  a consumption layer — a mart, a reference seed, a snapshot — and it is replaced by that relation's name from a
  fixed mapping (the files of each layer: models/<layer>/, seeds/ for reference, snapshots/ for snapshots, and the
  versions their YAML declares). `{{ var('<name>'[, default]) }}` is replaced by the value `--vars` gives (else
  the project's plain var, else the default), each value a plain code, number or date. `source()`, `run_query`,
  `env_var`, statements and comments are refused, so nothing else of the project's Jinja context is reachable.
- On DuckDB, exactly one statement, and a SELECT (DuckDB's own parser says which); the locked connection
  (taglake.ops.consumption) is what actually keeps it inside the consumption relations.
- On Athena, exactly one read-only query (sqlglot, dialect athena), every table in `<schema>_<consumption layer>`
  (or unqualified: the query runs in `<schema>_marts`), no table functions, no raw, staging, intermediate, vault or
  key relation (nor one of any other layer that is not a consumption layer) by any spelling. The enforcement in AWS
  is Lake Formation and the analysts' workgroup (docs/deployment.md); this check stops a mistake before it is
  billed.
- On Redshift, the same (sqlglot, dialect redshift), and an unqualified table must be a mart or a CTE (the query's
  search path is `<schema>_marts`, but Redshift searches pg_catalog first). The enforcement is the generated grants
  (macros/aws/access.sql).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from taglake.core.errors import Refused
from taglake.privacy.access_policy import RESTRICTED_LAYERS, AccessPolicy, consumption_layers, load_access


class QueryRefused(Refused, ValueError):
    """The SQL may not run on this target."""


# ---- Jinja: only {{ ref('x') }} / {{ ref('x', v=1) }} ----------------------------------------------------------

_REF = re.compile(
    r"""\{\{-?\s*ref\(\s*(?P<q>['"])(?P<name>[a-z][a-z0-9_]{0,120})(?P=q)\s*"""
    r"""(?:,\s*(?:v|version)\s*=\s*(?P<vq>['"]?)(?P<version>[0-9]{1,4})(?P=vq)\s*)?\)\s*-?\}\}"""
)
_JINJA_MARK = re.compile(r"\{\{|\{%|\{#|\}\}|%\}|#\}")
JINJA_REFUSED = (
    "ad hoc SQL may hold Jinja only as {{ ref('<mart, reference seed or snapshot>') }} (or ref('<model>', v=N)) and "
    "{{ var('<name>') }} (or var('<name>', <default>)); source(), run_query, env_var and every other Jinja are "
    "refused: name the relation instead"
)
_VAR = re.compile(
    r"""\{\{-?\s*var\(\s*(?P<q>['"])(?P<name>[A-Za-z_][A-Za-z0-9_]{0,120})(?P=q)\s*"""
    r"""(?:,\s*(?:(?P<dq>['"])(?P<text>[^'"{}]{0,100})(?P=dq)|(?P<number>-?[0-9]{1,18}(?:\.[0-9]{1,18})?))\s*)?"""
    r"""\)\s*-?\}\}"""
)


def has_jinja(sql: str) -> bool:
    return _JINJA_MARK.search(sql) is not None


def expand_refs(sql: str, resolve: Callable[[str, int | None], str]) -> str:
    """Replace each `{{ ref('name'[, v=N]) }}` by `resolve(name, N)`; refuse any other Jinja."""
    expanded = _REF.sub(lambda m: resolve(m["name"], int(m["version"]) if m["version"] else None), sql)
    if has_jinja(expanded):
        raise QueryRefused(JINJA_REFUSED)
    return expanded


def _var_text(value: Any) -> str:
    """A var's value as Jinja renders it into SQL (True, None, 12, 2026-11-30)."""
    if isinstance(value, list | tuple | dict):
        raise QueryRefused("a var() in ad hoc SQL must have one plain value (a code, number or date), not a list")
    return str(value)


def expand_vars(sql: str, values: Mapping[str, Any]) -> str:
    """Replace each `{{ var('name'[, default]) }}` by its value in `values` (--vars, then the project's plain vars),
    else its default; a var with neither is refused (naming the var, never a value). Values were checked as plain
    (taglake.ops.dbt_guard.parse_vars); a default must be plain too."""
    from taglake.ops.dbt_guard import is_plain_var_value

    def value_of(match: re.Match[str]) -> str:
        name = match["name"]
        if name in values:
            return _var_text(values[name])
        if match["number"] is not None:
            return match["number"]
        if match["dq"] is not None:
            if not is_plain_var_value(match["text"]):
                raise QueryRefused("a var() default in ad hoc SQL must be a plain code, number or date")
            return match["text"]
        raise QueryRefused(f"var('{name}') in the SQL has no value and no default: give it with --vars")

    return _VAR.sub(value_of, sql)


@dataclass(frozen=True)
class ConsumptionModels:
    """The models a ref() in ad hoc SQL may name: those of each consumption layer (alias = name), and the versioned
    ones (alias by version)."""

    by_layer: Mapping[str, frozenset[str]]  # consumption layer → its unversioned models, seeds or snapshots
    versions: Mapping[str, tuple[str, int, frozenset[int]]]  # versioned model → (layer, latest version, versions)

    def layer_and_alias(self, name: str, version: int | None) -> tuple[str, str]:
        if name in self.versions:
            layer, latest, known = self.versions[name]
            chosen = latest if version is None else version
            if chosen not in known:
                raise QueryRefused("a ref() asks for a version its model does not have: see the model's YAML")
            return layer, f"{name}_v{chosen}"
        if version is not None:
            raise QueryRefused("a ref() gives v= for a model that has no versions")
        for layer, names in self.by_layer.items():
            if name in names:
                return layer, name
        raise QueryRefused(
            "a ref() in ad hoc SQL names a model that is not a mart, reference seed or snapshot: only the "
            "consumption layers are reachable"
        )


_SQL_SNAPSHOT = re.compile(r"\{%-?\s*snapshot\s+([a-z_][a-z0-9_]*)")


def _layer_models(root: Path, layer: str) -> tuple[frozenset[str], dict[str, tuple[int, frozenset[int]]]]:
    """The models of one layer as the access declaration places them (macros/aws/access.sql `access_layer`): seeds
    are `reference`, snapshots `snapshots`, a model the folder under models/ it is in. Names, and versions."""
    if layer == "reference":
        return frozenset(p.stem for p in (root / "seeds").rglob("*.csv")), {}
    if layer == "snapshots":
        names: set[str] = set()
        for path in (root / "snapshots").rglob("*.yml"):
            doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            names.update(str(s["name"]) for s in doc.get("snapshots") or [])
        for path in (root / "snapshots").rglob("*.sql"):
            names.update(_SQL_SNAPSHOT.findall(path.read_text(encoding="utf-8")))
        return frozenset(names), {}
    folder = root / "models" / layer
    versions: dict[str, tuple[int, frozenset[int]]] = {}
    for path in sorted(folder.rglob("*.yml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for model in doc.get("models") or []:
            declared = [int(v["v"]) for v in model.get("versions") or []]
            if declared:
                versions[model["name"]] = (int(model.get("latest_version", max(declared))), frozenset(declared))
    versioned_files = {f"{name}_v{v}" for name, (_, known) in versions.items() for v in known}
    stems = {p.stem for p in folder.rglob("*.sql")}
    return frozenset(stems - versioned_files), versions


def consumption_models(root: Path, layers: Sequence[str] | None = None) -> ConsumptionModels:
    """Read the mapping from the project's files, for the consumption layers of its access declaration (or
    `layers`)."""
    by_layer: dict[str, frozenset[str]] = {}
    versions: dict[str, tuple[str, int, frozenset[int]]] = {}
    for layer in consumption_layers(root) if layers is None else layers:
        names, layer_versions = _layer_models(root, layer)
        by_layer[layer] = names
        versions.update({name: (layer, *spec) for name, spec in layer_versions.items()})
    return ConsumptionModels(by_layer=by_layer, versions=versions)


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


# ---- Athena: one read-only query over the consumption layers -------------------------------------------------------

ATHENA_CATALOG = "awsdatacatalog"
# Names never reachable from a user query whatever the declaration says: the raw zone's Glue databases, the key's,
# the catalog's own (compared in lower case, each name part alone).
_ALWAYS_FORBIDDEN = ("raw_.*", "restricted_keys", "masking_keys", "information_schema")


def forbidden_athena_name(access: AccessPolicy) -> re.Pattern[str]:
    """Every name part no user query may hold: the fixed ones, and `*_<layer>` of every restricted layer (staging,
    intermediate, vault) and of every declared layer that is not a consumption layer."""
    declared = set(access.layers) | set(RESTRICTED_LAYERS)
    closed = sorted(layer for layer in declared - set(access.consumption_layers) if layer not in ("raw", "keys"))
    names = [*_ALWAYS_FORBIDDEN, *(f".*_{re.escape(layer)}" for layer in closed)]
    return re.compile(f"^({'|'.join(names)})$")


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


def check_athena_sql(sql: str, schema: str | None, project_dir: Path | None = None) -> None:
    """Refuse anything but one read-only query whose every table is a relation of a consumption layer of the access
    declaration (of the project at `project_dir`, by default this checkout: see module doc)."""
    _check_warehouse_sql(sql, schema, project_dir, dialect="athena", engine="Athena", catalog=ATHENA_CATALOG)


def check_redshift_sql(sql: str, schema: str, project_dir: Path | None = None, *, database: str | None = None) -> None:
    """As check_athena_sql, for Redshift (sqlglot dialect redshift; a three-part name's database must be the
    target's). An unqualified table must be a CTE of the query or a mart: Redshift searches pg_catalog before the
    search path, so an unqualified system table (pg_user, stl_query, svv_table_info …) would resolve there."""
    root = project_dir
    marts = consumption_models(root or _checkout(), ["marts"])
    names = set(marts.by_layer.get("marts", frozenset()))
    for name, (_, _, known) in marts.versions.items():
        names |= {name, *(f"{name}_v{v}" for v in known)}
    _check_warehouse_sql(
        sql,
        schema,
        project_dir,
        dialect="redshift",
        engine="Redshift",
        catalog=database.lower() if database else None,
        unqualified=frozenset(n.lower() for n in names),
    )


def _checkout() -> Path:
    from taglake.core.checkout import find_project_dir

    return find_project_dir()


def _check_warehouse_sql(
    sql: str,
    schema: str | None,
    project_dir: Path | None,
    *,
    dialect: str,
    engine: str,
    catalog: str | None,
    unqualified: frozenset[str] | None = None,
) -> None:
    """One read-only query (parsed by sqlglot in `dialect`) whose every table is in `<schema>_<consumption layer>`
    of `catalog`, or unqualified (then, when `unqualified` is given, a CTE of the query or one of those names)."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    with _quiet_sqlglot():
        try:
            statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
        except SqlglotError:
            raise QueryRefused(f"the SQL does not parse as {engine} SQL: check its syntax") from None
    if len(statements) != 1:
        raise QueryRefused(f"give exactly one statement, not {len(statements)}")
    (statement,) = statements
    if not isinstance(statement, exp.Query) or any(
        isinstance(node, (exp.DDL, exp.DML, exp.Command, exp.Into, exp.Set, exp.Use)) for node in statement.walk()
    ):
        raise QueryRefused(
            f"only one read-only query may run on {engine} (select, with …, union …): no UNLOAD, CREATE TABLE AS, "
            "INSERT, MERGE, DDL or other statement"
        )
    access = load_access(project_dir)
    layers = access.consumption_layers
    forbidden = forbidden_athena_name(access)
    allowed = {f"{schema}_{layer}".lower() for layer in layers} if schema else None
    ctes = {cte.alias_or_name.lower() for cte in statement.find_all(exp.CTE)}
    for table in statement.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            raise QueryRefused(f"table functions are refused on {engine}: read the consumption tables by name")
        parts = [p.lower() for p in (table.catalog, table.db, table.name) if p]
        if any(forbidden.match(p) for p in parts):
            raise QueryRefused(
                "the SQL names a raw, staging, intermediate, vault or key relation: only the consumption "
                f"databases ({', '.join(layers)}) are reachable"
            )
        table_catalog, db = table.catalog.lower(), table.db.lower()
        if not db:
            # a CTE, or a table of the marts database/schema the query runs in
            if unqualified is not None and table.name.lower() not in ctes | unqualified:
                raise QueryRefused(
                    f"an unqualified table on {engine} must be a mart (or a CTE of the query): qualify a reference "
                    "seed or snapshot with its schema"
                )
            continue
        if table_catalog and table_catalog != (catalog or table_catalog):
            raise QueryRefused(f"only the {catalog} catalog is reachable")
        if table_catalog and catalog is None:
            raise QueryRefused(f"three-part names are refused on {engine}: name <schema>.<table>")
        if allowed is not None and db not in allowed:
            raise QueryRefused(f"every table must be in {' or '.join(sorted(allowed))} (or unqualified)")
        if allowed is None and not db.endswith(tuple(f"_{layer}" for layer in layers)):
            raise QueryRefused(
                f"every table must be in a database of a consumption layer ({', '.join(layers)}) (or unqualified)"
            )
