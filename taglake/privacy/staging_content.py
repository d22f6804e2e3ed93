"""What every column out of staging is, from the source YAML (taglake.core.sources) and the `pii_treatments` var.

A staging column (of a base_* or stg_* model) is one of:
- treated: the output of a classified column's treatment (token, mask, generalisation), or the quarantine record;
- validated: a code or identifier checked against its declared format, list or reference (a row outside it is
  quarantined as `invalid_code`), a typed number/date/timestamp (a cast that succeeds cannot carry text), or a
  column derived from those;
- guarded: free text, redacted where it looks like personal data (guarded_text).
The SQL side reads the same declarations (macros/quality/content_checks.sql, macros/privacy/masking.sql).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

from taglake.core.sources import SourceColumn, SourceTable

Category = Literal["treated", "validated", "guarded"]

CONTENT_KINDS: frozenset[str] = frozenset({"code", "identifier", "number", "date", "timestamp", "free_text", "object"})
CHECKED_KINDS: frozenset[str] = frozenset({"code", "identifier"})  # need a format, values or a reference
TYPED_KINDS: frozenset[str] = frozenset({"number", "date", "timestamp"})

# Columns every base model adds itself: the reject reason (literals from the model's SQL, a closed list that the
# model's YAML pins with accepted_values) and the quarantine record (classified fields replaced, other values kept
# only within their declaration: masked_record) and the file the row came from (kept only in the closed form the
# source YAML's `file_name` declares, else a fixed marker: macros/engines/source_file.sql).
PIPELINE_COLUMNS: dict[str, Category] = {
    "reject_reason": "validated",
    "quarantined_record": "treated",
    "source_file": "validated",
}


def declared_fields(table: SourceTable) -> tuple[SourceColumn, ...]:
    """Every field of a raw table as declared: columns (partition keys included) and JSON keys, an object's keys
    flattened."""
    out: list[SourceColumn] = []
    for field in (*table.json_keys, *table.columns):
        out.append(field)
        out.extend(field.fields)
    return tuple(out)


def declaration_errors(table: SourceTable) -> list[str]:
    """What is wrong with a raw table's declarations: a field neither classified (`pii`) nor declared (`content`),
    both, an unknown content kind, a code or identifier with no format/values/reference, an unanchored format."""
    errors: list[str] = []
    for field in declared_fields(table):
        where = f"{table.name}.{field.name}"
        if field.pii and field.content:
            errors.append(f"{where}: classified as {field.pii} and declared content {field.content}; keep one")
        elif not field.pii and not field.content:
            errors.append(f"{where}: neither classified (meta.pii) nor declared (meta.content)")
        elif field.content and field.content not in CONTENT_KINDS:
            errors.append(f"{where}: unknown content {field.content!r}")
        if field.content in CHECKED_KINDS and not (field.format or field.values or field.reference):
            errors.append(f"{where}: a {field.content} needs a format, values or a reference")
        if field.format and not (field.format.startswith("^") and field.format.endswith("$")):
            errors.append(f"{where}: format must be anchored (^…$)")
        if field.content == "object" and not field.fields:
            errors.append(f"{where}: an object declares its keys under fields")
    return errors


def treatment_outputs(field: SourceColumn, treatments: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
    """The staging columns a classified field becomes (as masked_columns in macros/privacy/tokenize.sql emits)."""
    if not field.pii:
        return ()
    out: list[str] = []
    for treatment in treatments.get(field.pii, ()):
        if treatment == "tokenize":
            out.append(field.token_name or f"{field.name}_token")
        elif treatment == "mask":
            out.append(f"{field.name}_masked")
        elif treatment == "generalize" and field.pii == "address":
            out += ["city", "district"]
        elif treatment == "generalize" and field.pii == "birth_date":
            out += ["birth_year", "age_band"]
    return tuple(out)


def _category(field: SourceColumn) -> Category | None:
    if field.content in CHECKED_KINDS or field.content in TYPED_KINDS:
        return "validated"
    if field.content == "free_text":
        return "guarded"
    return None


def column_coverage(
    table: SourceTable,
    treatments: Mapping[str, Sequence[str]],
    shared: Iterable[SourceColumn] = (),
) -> dict[str, set[Category]]:
    """Staging column name → every category that accounts for it, from the raw table's declarations, the columns
    `shared` by every staging model (the masking key's version) and the pipeline's own columns. A column with no
    category is not covered; one with two is ambiguous."""
    coverage: dict[str, set[Category]] = {}

    def add(name: str, category: Category) -> None:
        coverage.setdefault(name.lower(), set()).add(category)

    for field in (*declared_fields(table), *shared):
        for name in treatment_outputs(field, treatments):
            add(name, "treated")
        category = _category(field)
        if category:
            for name in field.staged_names:
                add(name, category)
    for name, category in PIPELINE_COLUMNS.items():
        add(name, category)
    return coverage


def uncovered_columns(model: str, columns: Iterable[str], coverage: Mapping[str, set[Category]]) -> list[str]:
    """One line per column of `model` that is not exactly one of treated, validated, guarded."""
    problems: list[str] = []
    for column in columns:
        found = coverage.get(column.lower(), set())
        if not found:
            problems.append(f"{model}.{column}: neither a treatment output, a validated field nor guarded free text")
        elif len(found) > 1:
            problems.append(f"{model}.{column}: claimed as {' and '.join(sorted(found))}; it must be exactly one")
    return problems
