"""Fail closed: a model that carries personal data in clear text fails the build, and what it built is dropped."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from project_copy import copy_project, dbt

from taglake.core.project import Project
from taglake.lake.generate import generate_lake
from taglake.privacy.dbt_runner import prepare_local

pytestmark = pytest.mark.dbt

MODEL = Path("models/staging/crm/base/base_crm__customers.sql")
# the last select-list entry (base models keep landing_date last); base_crm__customers is incremental, so a planted
# column is built on the existing table, as a daily run would
ANCHOR = "        {{ landing_date() }} as landing_date\n"


@pytest.fixture(scope="module")
def project_copy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """A private copy of the dbt project over a small lake, free to be broken."""
    project = copy_project(tmp_path_factory.mktemp("guard"))
    generate_lake(project.lake_dir, customers=200, days=3, progress=False)
    prepare_local(project, "local")
    yield project


def _build_customers(project: Project) -> subprocess.CompletedProcess[str]:
    return dbt(project, "run", "--select", "base_crm__customers")


def _build_with(project: Project, added: str) -> subprocess.CompletedProcess[str]:
    """base_crm__customers built with `added` (a select-list entry) planted in it; the model is restored after."""
    model = project.root / MODEL
    original = model.read_text(encoding="utf-8")
    assert ANCHOR in original
    try:
        model.write_text(original.replace(ANCHOR, f"        {added}\n{ANCHOR}"), encoding="utf-8")
        return _build_customers(project)
    finally:
        model.write_text(original, encoding="utf-8")


def _columns(project: Project) -> set[str]:
    """The columns base_crm__customers has in the database now (empty when it does not exist)."""
    with duckdb.connect(str(project.duckdb_path), read_only=True) as con:
        rows = con.sql(
            "select column_name from information_schema.columns "
            "where table_schema = 'taglake_staging' and table_name = 'base_crm__customers'"
        ).fetchall()
    return {r[0] for r in rows}


def test_the_unbroken_model_passes_the_guard(project_copy: Project) -> None:
    result = _build_customers(project_copy)
    assert result.returncode == 0, result.stdout[-2000:]
    assert "customer_token" in _columns(project_copy)


@pytest.mark.parametrize(
    ("added", "finding"),
    [
        ("checked.mobile,", "mobile: a classified personal-data column, untreated"),
        ("checked.email as email_address,", "email_address: its name looks like personal data"),
        ("checked.national_id as reference_code,", "reference_code: "),
        ("'***' || checked.mobile as contact_hint,", "look like a mobile"),
        (
            "'客戶' || translate(lower(checked.national_id), 'abcdefghijklmnopqrstuvwxyz0123456789',"
            " 'ａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ０１２３４５６７８９') as note,",
            "look like a national_id",
        ),
    ],
    ids=["classified-column", "personal-name", "id-under-innocent-name", "mobile-inside-text", "full-width-id"],
)
def test_adding_an_unmasked_column_fails_the_build(project_copy: Project, added: str, finding: str) -> None:
    safe_columns = _columns(project_copy)
    assert "customer_token" in safe_columns
    result = _build_with(project_copy, added)
    assert result.returncode != 0
    assert "privacy guard:" in result.stdout and finding in result.stdout, result.stdout[-3000:]
    # What the refused build wrote is gone: the table is the last good (masked) one, never the new one.
    assert _columns(project_copy) == safe_columns


def test_a_refused_first_build_leaves_nothing(project_copy: Project) -> None:
    with duckdb.connect(str(project_copy.duckdb_path)) as con:
        con.execute("drop table if exists taglake_staging.base_crm__customers")
    result = _build_with(project_copy, "checked.address,")
    assert result.returncode != 0 and "privacy guard:" in result.stdout
    assert _columns(project_copy) == set()


# A random UUID whose last group has a mobile's shape (+886 9…): the generator's medium lake holds two such event IDs.
_UUID_WITH_MOBILE_RUN = "24684340-9fd1-65cd-4dcb-886930055472"


@pytest.mark.parametrize(
    ("added", "refused"),
    [
        (f"'{_UUID_WITH_MOBILE_RUN}' as event_id,", False),
        (f"'{_UUID_WITH_MOBILE_RUN}' as note,", True),
        ("'0912-345-678' as event_id,", True),
        (f"'ref {_UUID_WITH_MOBILE_RUN}' as event_id,", True),
        (f"upper('{_UUID_WITH_MOBILE_RUN}') as event_id,", True),
    ],
    ids=["uuid-in-declared-identifier", "uuid-in-other-column", "mobile-in-identifier", "uuid-in-text", "uuid-upper"],
)
def test_only_a_whole_uuid_in_a_declared_identifier_column_is_spared(
    project_copy: Project, added: str, refused: bool
) -> None:
    """event_id is `content: identifier` in the source YAML; only a whole canonical UUID there is spared."""
    result = _build_with(project_copy, added)
    if refused:
        assert result.returncode != 0 and "look like a mobile" in result.stdout, result.stdout[-3000:]
    else:
        assert result.returncode == 0, result.stdout[-3000:]
        assert "event_id" in _columns(project_copy)
    _build_customers(project_copy)  # back to the unbroken model for the next case
