"""Every column out of staging is treated, validated or guarded, as the source YAML declares (docs/privacy.md)."""

from __future__ import annotations

import re
import unicodedata

import duckdb
import pytest
import yaml
from column_checks import accepted_values_of

from taglake.core.project import Project
from taglake.core.sources import catalog_tables, project_var, source_tables
from taglake.privacy.staging_content import column_coverage, declaration_errors, declared_fields, uncovered_columns

# Personal values in the spellings staging and the guard must both know (../shared/domain.md): a closed format must
# admit none of them, as a whole value.
PERSONAL_SPELLINGS = (
    "A123456789",
    "a123456789",
    "A 123 456 789",
    "A123-456-789",
    "0912345678",
    "0912-345-678",
    "0912 345 678",
    "0912.345.678",
    "091.234.567.8",
    "+886912345678",
    "886912345678",
    "+886 912 345 678",
    "a@b.tw",
    "someone@example.com",
    "王小明",
    "台北市大安區",
    "1990-01-31",
)


def _staging_models_yaml() -> dict[str, dict]:
    """Every staging model's YAML node, by name."""
    models: dict[str, dict] = {}
    for path in sorted((Project.locate().root / "models" / "staging").glob("*/_*__models.yml")):
        for model in yaml.safe_load(path.read_text(encoding="utf-8")).get("models", []):
            models[model["name"]] = model
    return models


def test_every_raw_field_is_classified_or_declared() -> None:
    errors = [e for table in source_tables().values() for e in declaration_errors(table)]
    assert not errors, "\n".join(errors)


def test_code_formats_admit_no_personal_value() -> None:
    """A format or list that admits a personal value is not closed: nothing then stops a national ID in a code."""
    leaks = []
    for table in catalog_tables().values():
        for field in declared_fields(table):
            for spelling in PERSONAL_SPELLINGS:
                for form in {spelling, unicodedata.normalize("NFKC", spelling)}:
                    value = form.strip()
                    if field.case == "upper":
                        value = value.upper()
                    elif field.case == "lower":
                        value = value.lower()
                    if (field.format and re.fullmatch(field.format.strip("^$"), value)) or value in field.values:
                        leaks.append(f"{table.name}.{field.name} admits {spelling!r}")
    assert not leaks, "\n".join(leaks)


def test_reject_reasons_are_a_closed_list_that_includes_invalid_code() -> None:
    models = _staging_models_yaml()
    for model_name, model in models.items():
        if not model_name.startswith("base_"):
            continue
        values = accepted_values_of(model, "reject_reason")
        assert "invalid_code" in values, model_name
    # The mart accepts the declared list (vars.reject_reasons; tests_py/lake/test_reject_reasons.py checks it reads it).
    assert "invalid_code" in project_var("reject_reasons")


@pytest.mark.dbt
def test_every_staging_column_is_treated_validated_or_guarded(built_project: Project) -> None:
    """Every column of every base_* and stg_* model, as built, maps to exactly one of: a treatment output, a
    validated code/identifier/number/date, or guarded free text; derived from the source YAML."""
    treatments = project_var("pii_treatments")
    key = catalog_tables()["privacy.masking_keys"]
    shared = [c for c in key.columns if c.content]
    with duckdb.connect(str(built_project.duckdb_path), read_only=True) as con:
        rows = con.execute(
            "select table_name, column_name from information_schema.columns "
            "where table_schema = 'taglake_staging' order by table_name, ordinal_position"
        ).fetchall()
    columns: dict[str, list[str]] = {}
    for table, column in rows:
        columns.setdefault(table, []).append(column)
    assert len(columns) == 2 * len(source_tables()), sorted(columns)
    problems = []
    for table in source_tables().values():
        coverage = column_coverage(table, treatments, shared)
        for model in (f"base_{table.source}__{table.table}", f"stg_{table.source}__{table.table}"):
            assert model in columns, model
            problems += uncovered_columns(model, columns[model], coverage)
    assert not problems, "\n".join(problems)


def test_an_undeclared_column_is_named() -> None:
    """The coverage check names the model and column it cannot account for."""
    table = source_tables()["crm.customers"]
    coverage = column_coverage(table, project_var("pii_treatments"))
    problems = uncovered_columns("stg_crm__customers", ["customer_token", "gender", "nickname", "city"], coverage)
    assert problems == [
        "stg_crm__customers.nickname: neither a treatment output, a validated field nor guarded free text"
    ]
