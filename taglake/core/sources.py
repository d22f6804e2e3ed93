"""The raw tables as the dbt source YAML declares them (models/staging/<source>/_<source>__sources.yml).

The YAML is the one declaration of each raw table's schema: columns and types, personal-data classes, required
columns, the type each text column must parse as, key, file format. The generator, the leak scanner and the Glue
catalog read it from here instead of keeping copies.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from taglake.core.checkout import find_project_dir


@dataclass(frozen=True)
class SourceColumn:
    name: str
    data_type: str
    description: str = ""
    pii: str | None = None
    token_name: str | None = None  # a tokenized class: the token column's name (default <name>_token)
    required: bool = False
    parses_as: str | None = None
    partition_key: bool = False
    # What a non-personal field may hold (`meta.content`; see macros/quality/content_checks.sql): code, identifier,
    # number, date, timestamp, free_text, or object (a JSON object whose own keys are `fields`).
    content: str | None = None
    format: str | None = None  # code/identifier: an anchored POSIX regex
    values: tuple[str, ...] = ()  # code: the closed list
    reference: str | None = None  # code: a seed, with reference_column
    reference_column: str | None = None
    case: str | None = None  # upper | lower, applied (after trimming) before the check and in staging
    staged_as: str | None = None  # the staging column's name, when it differs from the field's
    derives: tuple[str, ...] = ()  # further staging columns computed from this field
    fields: tuple[SourceColumn, ...] = ()  # an object's keys

    @property
    def staged_names(self) -> tuple[str, ...]:
        """The staging columns this field becomes, when it is declared non-personal (empty for an object)."""
        if self.content == "object":
            return ()
        return (self.staged_as or self.name, *self.derives)


@dataclass(frozen=True)
class SourceTable:
    source: str
    table: str
    schema: str  # the Glue database / Spectrum external schema
    raw_prefix: str  # the folder under raw/ in the lake and the S3 raw bucket
    format: str  # csv | parquet | jsonl
    key: tuple[str, ...]
    columns: tuple[SourceColumn, ...]  # as declared, partition keys included
    json_keys: tuple[SourceColumn, ...] = ()  # for a JSON-lines table: the keys each line holds
    description: str = ""
    source_description: str = ""
    format_options: tuple[tuple[str, Any], ...] = ()  # how the file is written (CSV delimiter, …), as pairs
    partition_years: str = ""  # the landing years partition projection covers, "first,last"
    restricted: bool = False  # not a lake table: the masking key, in its own restricted location
    completeness: str = ""  # what a complete delivery is: rows_every_day | file_every_day | rows_every_file

    @property
    def name(self) -> str:
        return f"{self.source}.{self.table}"

    @property
    def file_fields(self) -> tuple[SourceColumn, ...]:
        """What each record holds, in file order: the JSON keys of a JSON-lines table, else its non-partition
        columns."""
        return self.json_keys or tuple(c for c in self.columns if not c.partition_key)

    @property
    def partition_keys(self) -> tuple[SourceColumn, ...]:
        return tuple(c for c in self.columns if c.partition_key)

    def folder(self, lake_dir: Path) -> Path:
        """The table's folder in a lake laid out as S3 holds it: raw/<raw_prefix>/<table>/year=…/month=…/day=…"""
        return lake_dir / "raw" / self.raw_prefix / self.table


def _meta(node: dict[str, Any]) -> dict[str, Any]:
    return {**(node.get("meta") or {}), **((node.get("config") or {}).get("meta") or {})}


def _field(node: dict[str, Any], meta: dict[str, Any]) -> SourceColumn:
    """A declared column (its attributes in `config.meta`) or JSON key (its attributes inline)."""
    return SourceColumn(
        name=node["name"],
        data_type=node.get("data_type", "string"),
        description=(node.get("description") or "").strip(),
        pii=meta.get("pii"),
        token_name=meta.get("token_name"),
        required=bool(meta.get("required", False)),
        parses_as=meta.get("parses_as"),
        partition_key=bool(meta.get("partition_key", False)),
        content=meta.get("content"),
        format=meta.get("format"),
        values=tuple(str(v) for v in meta.get("values") or ()),
        reference=meta.get("reference"),
        reference_column=meta.get("reference_column"),
        case=meta.get("case"),
        staged_as=meta.get("staged_as"),
        derives=tuple(meta.get("derives") or ()),
        fields=tuple(_field(sub, sub) for sub in meta.get("fields") or ()),
    )


def _text(node: dict[str, Any]) -> str:
    return " ".join((node.get("description") or "").split())


def _tables_in(path: Path) -> list[SourceTable]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    found = []
    for source in doc.get("sources", []):
        source_meta = _meta(source)
        for table in source.get("tables", []):
            meta = {**source_meta, **_meta(table)}
            restricted = meta.get("restricted_file")  # the masking key's file, in its own restricted location
            if restricted:
                meta = {**meta, **restricted}
            if "format" not in meta:
                continue  # not a file-backed table
            found.append(
                SourceTable(
                    source=source["name"],
                    table=table["name"],
                    schema=source["schema"],
                    raw_prefix=meta.get("raw_prefix", source["name"]),
                    format=meta["format"],
                    key=tuple(meta.get("key", ())),
                    columns=tuple(_field(c, _meta(c)) for c in table.get("columns", [])),
                    json_keys=tuple(_field(k, k) for k in meta.get("json_keys", [])),
                    description=_text(table),
                    source_description=_text(source),
                    format_options=tuple(sorted((meta.get("format_options") or {}).items())),
                    partition_years=str(meta.get("partition_years", "")),
                    restricted=bool(restricted),
                    completeness=str(meta.get("completeness", "")),
                )
            )
    return found


@cache
def _load(project_dir: Path) -> dict[str, SourceTable]:
    tables: dict[str, SourceTable] = {}
    for path in sorted((project_dir / "models" / "staging").glob("*/_*__sources.yml")):
        for table in _tables_in(path):
            tables[table.name] = table
    if not tables:
        raise FileNotFoundError(f"no raw source tables declared under {project_dir / 'models' / 'staging'}")
    return tables


def source_tables(project_dir: Path | None = None) -> dict[str, SourceTable]:
    """Every raw table the project declares, by `source.table` (the lake's tables, not the masking key)."""
    return {name: t for name, t in catalog_tables(project_dir).items() if not t.restricted}


def catalog_tables(project_dir: Path | None = None) -> dict[str, SourceTable]:
    """Every file-backed source table the Glue catalog registers: the raw tables and the restricted masking key."""
    return _load((project_dir or find_project_dir()).resolve())


def read_seed(name: str, project_dir: Path | None = None) -> list[dict[str, str]]:
    """The rows of seeds/<name>.csv: reference data the dbt project owns (currencies, merchant categories)."""
    import csv

    path = (project_dir or find_project_dir()) / "seeds" / f"{name}.csv"
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


# libyaml's safe loader where PyYAML was built with it (about ten times faster than the pure-Python one; the same
# safe subset of YAML, the same exception classes), else the pure-Python one.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str) -> Any:
    """`yaml.safe_load`, through libyaml when it is there: the project's YAML files are read on every command."""
    return yaml.load(text, Loader=_SAFE_LOADER)


def project_var(name: str, project_dir: Path | None = None) -> Any:
    """A var's value as dbt_project.yml declares it (thresholds the SQL and the generator share)."""
    doc = load_yaml(((project_dir or find_project_dir()) / "dbt_project.yml").read_text(encoding="utf-8"))
    try:
        return doc["vars"][name]
    except KeyError:
        raise KeyError(f"dbt_project.yml declares no var {name!r}") from None
