"""Leak scanner, engines: the tables a build wrote on Athena or Redshift, matched against the raw zone IN the engine.

The local scan (taglake.privacy.scan.db) loads canaries, clear values read from the raw files, into its own DuckDB
connection. On Athena and Redshift that cannot be done without putting clear values into SQL text (Athena keeps
every query's text in its history, Redshift in its STL tables) or into a table someone could read. So here nothing
clear ever leaves the engine: one generated query per batch of columns reads the raw zone's own tables (the Glue
`raw_*` tables, Spectrum's external schemas on Redshift; which column holds which personal class comes from the
source YAML, taglake.core.sources) and the key relation (`restricted_keys.masking_keys`), turns raw values and the
build's text cells into the same canonical words with the engine's regular expressions, equality-joins them, and
returns counts only: (relation number, column number, kind, count). The SQL holds identifiers, the shapes of
taglake.privacy.patterns (the one definition of what personal data looks like) and numbers; never a value.

Per kind, as the local scan where the engine allows:
- national IDs, mobiles, e-mail addresses: whole words in any spelling the patterns know (full-width folded to
  ASCII, any case, separators), compared in canonical form (ID upper-case, mobile `09` + 8 digits, address
  lower-case without spaces); a raw value counts in the class its column is declared with;
- names: whole cells, trimmed, equal to a raw name of 2 characters or more;
- key material: the first 16 hex digits of either key part, as a case-insensitive substring of any cell.
Not matched here (the local scan does): a value in a spelling no word rule knows (a needle), a raw JSON line that
does not parse (its keys are read with the engine's JSON functions), and, on Redshift, a cell beyond its first
MAX_WORDS_PER_CELL words of one shape (Redshift has no regexp_extract_all: words are taken by occurrence number).

Which relations: every model, seed and snapshot of the build's manifest (taglake.core.artifacts) in a layer the
pipeline role builds (vars.access: the vault is the system account's and holds clear values by design), and of them
every text column the engine's information_schema lists. A relation the manifest names and the engine does not have
is refused (NothingToScan), never passed as clean.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from taglake.core.artifacts import read_manifest
from taglake.core.sources import SourceTable, catalog_tables, source_tables
from taglake.privacy import patterns
from taglake.privacy.access_policy import load_access
from taglake.privacy.scan.canaries import CANARY_CLASSES, KEY_PREFIX_CHARS, MIN_NAME_LENGTH, pii_fields
from taglake.privacy.scan.match import FULL_WIDTH, HALF_WIDTH, KINDS, WORD_KINDS, Hit, sort_hits

ENGINES: tuple[str, ...] = ("athena", "redshift")
# The service identity whose layers are scanned: what it builds is what it must not leak.
PIPELINE_ROLE = "pipeline"
SCANNED_CLASSES = CANARY_CLASSES  # the classes the local scan collects: the word kinds and names
# Redshift takes a cell's words by occurrence number: at most this many of one shape per cell.
MAX_WORDS_PER_CELL = 256
# Text columns per query: a relation or many in one query, the raw zone read once per query.
COLUMNS_PER_QUERY = 400
# What the engine's information_schema calls a text column.
_TEXT_TYPES = ("varchar", "char", "string", "character", "text")
NO_FINGERPRINT = "-"  # a hit found in the engine carries no fingerprint: no value ever comes back

Runner = Callable[[str], list[tuple[Any, ...]]]


class EngineScanError(RuntimeError):
    """The build's relations or the scan could not be read on the engine. The engine's own message is withheld."""


@dataclass(frozen=True)
class Relation:
    schema: str
    name: str
    layer: str

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}"


@dataclass(frozen=True)
class Column:
    relation: Relation
    name: str


# ---- which relations ----------------------------------------------------------------------------------------------


def built_relations(manifest_path: Path, project_dir: Path | None = None) -> list[Relation]:
    """Every table, view, seed and snapshot of the build's manifest in a layer the pipeline role builds
    (vars.access); a seed's layer is `reference`, a snapshot's `snapshots`, a model's its folder under models/."""
    builds = set(load_access(project_dir).roles[PIPELINE_ROLE].builds)
    manifest = read_manifest(manifest_path)
    found: dict[tuple[str, str], Relation] = {}
    for node in manifest.nodes.values():
        kind = str(getattr(node.resource_type, "value", node.resource_type))
        if kind not in ("model", "seed", "snapshot") or node.config is None or node.config.enabled is False:
            continue
        if node.config.materialized == "ephemeral":
            continue
        layer = {"seed": "reference", "snapshot": "snapshots"}.get(kind) or node.fqn[1]
        if layer in builds:
            relation = Relation(str(node.schema_), str(node.alias or node.name), layer)
            found[(relation.schema, relation.name)] = relation
    return sorted(found.values(), key=lambda r: (r.schema, r.name))


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def columns_sql(schemas: Sequence[str]) -> str:
    """The information_schema query for every column of the schemas: names and types, no data."""
    names = ", ".join(_literal(s) for s in sorted(set(schemas)))
    return (
        "select table_schema, table_name, column_name, data_type from information_schema.columns "
        f"where table_schema in ({names}) order by table_schema, table_name, ordinal_position"
    )


def text_columns(relations: Sequence[Relation], listed: Sequence[tuple[Any, ...]]) -> list[Column]:
    """The text columns of `relations` among the engine's listed (schema, table, column, type) rows. A relation the
    engine does not list raises EngineScanError: the build says it is there, so it is never passed as clean."""
    by_relation: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for schema, table, column, data_type in listed:
        by_relation.setdefault((str(schema).lower(), str(table).lower()), []).append((str(column), str(data_type)))
    columns: list[Column] = []
    missing: list[str] = []
    for relation in relations:
        listed_columns = by_relation.get((relation.schema.lower(), relation.name.lower()))
        if listed_columns is None:
            missing.append(str(relation))
            continue
        columns += [Column(relation, c) for c, t in listed_columns if t.lower().startswith(_TEXT_TYPES)]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise EngineScanError(
            f"{len(missing)} relation(s) of the build's manifest are not on the engine ({shown}): scan the "
            "manifest of the build that ran on this target (--manifest)"
        )
    return columns


# ---- the engines' SQL -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dialect:
    """What differs between the engines; the same functions as the dispatched macros (macros/engines/regex.sql and
    json.sql: regex_matches, json_text)."""

    name: str

    def matches(self, expr: str, pattern: str) -> str:
        if self.name == "athena":
            return f"regexp_like({expr}, {_literal(pattern)})"
        return f"({expr} ~ {_literal(pattern)})"

    def json_text(self, expr: str, key: str) -> str:
        if self.name == "athena":
            return f"try(json_extract_scalar({expr}, {_literal('$.' + key)}))"
        return f"json_extract_path_text({expr}, {_literal(key)}, true)"

    def occurrences(self, source: str, pattern: str, where: str = "") -> str:
        """`select side, c, m from <source>`: every match `m` of `pattern` in the column `f` of `source` (rows
        filtered by `where` first)."""
        rows = f"(select side, c, f from {source}{' where ' + where if where else ''})"
        if self.name == "athena":
            return (
                f"select x.side, x.c, t.m from {rows} as x "
                f"cross join unnest(regexp_extract_all(x.f, {_literal(pattern)})) as t (m)"
            )
        counted = f"(select side, c, f, regexp_count(f, {_literal(pattern)}) as k from {rows} as y)"
        return (
            f"select x.side, x.c, regexp_substr(x.f, {_literal(pattern)}, 1, o.n) as m from {counted} as x "
            "join occurrence as o on o.n <= x.k where x.k > 0"
        )


def _occurrence_cte() -> str:
    """Redshift: the numbers 1 … MAX_WORDS_PER_CELL, without generate_series (leader-node only on Redshift)."""
    digits = " union all ".join(f"select {d} as d" for d in range(16))
    return f"occurrence as (select a.d * 16 + b.d + 1 as n from ({digits}) as a cross join ({digits}) as b)"


_ALNUM = patterns.SQL_ALNUM
_SEPARATORS = patterns.class_characters(patterns.SQL_SEPARATORS)
# The word rule of the local scan (match.SQL_WORD_PATTERN), in the engines' common syntax: an ID or a mobile after
# a non-letter (or the start), with any letters and digits that follow it; a word that is not exactly an ID or a
# mobile once its leading character is dropped is no word. The trailing run keeps the next word's separator
# unconsumed, so two words one space apart are both found.
WORD_PATTERN = f"{patterns.SQL_WORD_BEFORE}({patterns.SQL_ID_SHAPE}|{patterns.SQL_MOBILE_SHAPE})[{_ALNUM}]*"
ID_WORD = f"^({patterns.SQL_ID_SHAPE})$"
MOBILE_WORD = f"^({patterns.SQL_MOBILE_SHAPE})$"
EMAIL_PATTERN = patterns.SQL_PATTERNS["email"]
# Full-width forms as ASCII (the backslash as a slash: some engines' string literals read a backslash).
_HALF = HALF_WIDTH.replace("\\", "/")


def _folded(expr: str) -> str:
    return f"lower(translate({expr}, {_literal(FULL_WIDTH)}, {_literal(_HALF)}))"


@dataclass(frozen=True)
class RawField:
    """A raw-zone field of a scanned class: its relation, the SQL for its text, and its class."""

    relation: str
    expr: str
    pii_class: str


def raw_fields(dialect: Dialect, project_dir: Path | None = None) -> list[RawField]:
    """Every raw field of a scanned class, as the source YAML declares it (JSON keys read with the engine's JSON
    function)."""
    fields: list[RawField] = []
    for table in source_tables(project_dir).values():
        relation = f"{_quote(table.schema)}.{_quote(table.table)}"
        for name, cls in pii_fields(table).items():
            if cls not in SCANNED_CLASSES:
                continue
            expr = dialect.json_text(_quote("raw_line"), name) if table.format == "jsonl" else _quote(name)
            fields.append(RawField(relation, expr, cls))
    return fields


def key_relation(project_dir: Path | None = None) -> str:
    """The masking key's relation (the restricted source of the source YAML)."""
    keys: list[SourceTable] = [t for t in catalog_tables(project_dir).values() if t.restricted]
    if len(keys) != 1:
        raise EngineScanError("the source YAML must declare exactly one restricted key relation")
    return f"{_quote(keys[0].schema)}.{_quote(keys[0].table)}"


def scan_sql(dialect: Dialect, columns: Sequence[Column], raw: Sequence[RawField], keys: str) -> str:
    """One query: rows (c, kind, n), `c` the index of a column in `columns`, `kind` one of KINDS, `n` the words
    (names, key material: cells) of that kind in that column that hold a raw value or the key's material."""
    classes = {cls: i for i, cls in enumerate(SCANNED_CLASSES)}
    texts = [
        f"select 0 as side, {i} as c, {_quote(col.name)} as v "
        f"from {_quote(col.relation.schema)}.{_quote(col.relation.name)} where {_quote(col.name)} is not null"
        for i, col in enumerate(columns)
    ]
    texts += [f"select 1 as side, {classes[f.pii_class]} as c, {f.expr} as v from {f.relation}" for f in raw]
    drop_first = f"case when {dialect.matches('m', '^[^' + _ALNUM + ']')} then substr(m, 2) else m end"
    digits = f"translate(w, {_literal(_SEPARATORS + '+')}, '')"
    canonical_number = (
        f"case when {dialect.matches('w', ID_WORD)} then 'national_id' "
        f"when {dialect.matches('w', MOBILE_WORD)} then 'mobile' end"
    )
    ctes = [
        "texts as (" + " union all ".join(texts) + ")",
        f"folded as (select side, c, v, {_folded('v')} as f from texts)",
        "number_matches as (" + dialect.occurrences("folded", WORD_PATTERN) + ")",
        f"numbers as (select side, c, {drop_first} as w from number_matches)",
        f"number_words as (select side, c, {canonical_number} as kind, w from numbers)",
        "email_matches as (" + dialect.occurrences("folded", EMAIL_PATTERN, "strpos(f, '@') > 0") + ")",
        "words as ("
        "select side, c, kind, upper(translate(w, "
        f"{_literal(_SEPARATORS)}, '')) as word from number_words where kind = 'national_id' "
        f"union all select side, c, kind, '0' || substr({digits}, length({digits}) - 8) as word "
        "from number_words where kind = 'mobile' "
        "union all select side, c, 'email' as kind, replace(m, ' ', '') as word from email_matches)",
        "raw_words as (select distinct kind, word from words where side = 1 and ("
        + " or ".join(f"(kind = '{k}' and c = {classes[k]})" for k in WORD_KINDS)
        + "))",
        f"raw_names as (select distinct trim(v) as name from texts where side = 1 and c = {classes['name']} "
        f"and length(trim(v)) >= {MIN_NAME_LENGTH})",
        f"key_needles as (select distinct lower(substr(k_inner, 1, {KEY_PREFIX_CHARS})) as needle from {keys} "
        f"union all select distinct lower(substr(k_outer, 1, {KEY_PREFIX_CHARS})) as needle from {keys})",
    ]
    if dialect.name == "redshift":
        ctes.insert(0, _occurrence_cte())
    hits = [
        "select w.c, w.kind, count(*) as n from words as w join raw_words as k "
        "on k.kind = w.kind and k.word = w.word where w.side = 0 group by w.c, w.kind",
        "select t.c, 'name' as kind, count(*) as n from texts as t join raw_names as k "
        "on trim(t.v) = k.name where t.side = 0 group by t.c",
        "select f.c, 'key_material' as kind, count(*) as n from folded as f join key_needles as k "
        "on strpos(f.f, k.needle) > 0 where f.side = 0 group by f.c",
    ]
    return "with " + ", ".join(ctes) + " " + " union all ".join(hits)


def hits_from_rows(columns: Sequence[Column], rows: Sequence[tuple[Any, ...]]) -> list[Hit]:
    """Hits from the scan's (c, kind, n) rows: one per column and kind, its count, no fingerprint."""
    found: dict[tuple[int, str], int] = {}
    for c, kind, n in rows:
        if str(kind) not in KINDS or int(n) <= 0:
            continue
        found[(int(c), str(kind))] = found.get((int(c), str(kind)), 0) + int(n)
    hits = []
    for (c, kind), n in found.items():
        col = columns[c]
        hits.append(Hit(f"relation {col.relation}.{col.name}", kind, n, NO_FINGERPRINT))
    return sort_hits(hits)


def scan_engine(
    engine: str,
    relations: Sequence[Relation],
    run: Runner,
    *,
    project_dir: Path | None = None,
    sent: list[str] | None = None,
) -> list[Hit]:
    """Every hit of the raw zone's personal data and the key's material in the text columns of `relations`, found
    in the engine by `run` (one SQL text → its rows). `sent`, when given, receives every SQL text run."""
    if engine not in ENGINES:
        raise EngineScanError(f"no in-engine leak scan for {engine}: use one of {', '.join(ENGINES)}")
    dialect = Dialect(engine)

    def execute(sql: str) -> list[tuple[Any, ...]]:
        if sent is not None:
            sent.append(sql)
        return run(sql)

    listed = execute(columns_sql([r.schema for r in relations])) if relations else []
    columns = text_columns(relations, listed)
    if not columns:
        raise EngineScanError("the build's relations hold no text column on the engine: nothing to scan")
    raw = raw_fields(dialect, project_dir)
    keys = key_relation(project_dir)
    hits: list[Hit] = []
    for first in range(0, len(columns), COLUMNS_PER_QUERY):
        chunk = columns[first : first + COLUMNS_PER_QUERY]
        hits += hits_from_rows(chunk, execute(scan_sql(dialect, chunk, raw, keys)))
    return sort_hits(hits)


# ---- the scan of a build ------------------------------------------------------------------------------------------


def check_manifest(manifest_path: Path) -> None:
    if not manifest_path.is_file():
        raise EngineScanError(f"{manifest_path}: no manifest there; build first or pass --manifest with the build's")


def scan_build(
    project_dir: Path, engine: str, manifest_path: Path, run: Runner, *, sent: list[str] | None = None
) -> list[Hit]:
    """The leak scan of a build on an Athena or Redshift target: the relations of `manifest_path` (the build's
    manifest) in the pipeline's layers, scanned in the engine through `run` (one SQL text → its rows; the connection
    is taglake query's, made by taglake.ops.leak_scan)."""
    check_manifest(manifest_path)
    relations = built_relations(manifest_path, project_dir)
    if not relations:
        raise EngineScanError(f"{manifest_path}: the manifest names no relation the pipeline builds: nothing to scan")
    return scan_engine(engine, relations, run, project_dir=project_dir, sent=sent)
