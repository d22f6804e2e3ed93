"""One definition of what personal data looks like (taglake.privacy.patterns), and its SQL rendering for the three
engines: every spelling in the shared corpus is found, no look-alike is, and Python and SQL agree."""

from __future__ import annotations

import duckdb
import pytest
from dbt_snippets import compiled_for_duckdb
from pii_spellings import NEGATIVES, folded, positives, strip_separators

from taglake.core.project import Project
from taglake.privacy import patterns

PLANTED = positives()


def test_the_generated_macro_file_is_what_the_module_generates() -> None:
    project = Project.locate()
    assert (project.root / patterns.MACRO_PATH).read_text(encoding="utf-8") == patterns.render_macros()
    assert patterns.main(["--project-dir", str(project.root), "--check"]) == 0


def test_every_spelling_is_found_with_its_kind_and_canonical_form() -> None:
    assert len(PLANTED) > 500
    for planted in PLANTED:
        found = patterns.find(planted.text)
        canon = {f.canonical for f in found if f.kind == planted.kind}
        expected = planted.value.lower() if planted.kind == "email" else planted.value
        assert expected in canon, (planted.kind, planted.text)


def test_no_look_alike_is_found() -> None:
    for text in NEGATIVES:
        assert patterns.find(text) == [], text


def _leaks(planted_value: str, kind: str, text: str) -> bool:
    """Independent oracle: the value's folded characters, separators stripped, occur in the folded text."""
    needle = strip_separators(planted_value)
    if kind == "mobile":
        needle = needle[1:]  # the 9 digits after the 0, which every prefix form keeps
    if kind == "address":
        needle = folded(planted_value)[3:]  # past the city (a spaced or 台 spelling still holds the street)
        return needle[-4:] in strip_separators(text)
    return needle in strip_separators(text)


def test_redaction_leaves_no_spelling_and_keeps_look_alikes() -> None:
    for planted in PLANTED:
        assert _leaks(planted.value, planted.kind, planted.text), planted.text  # the oracle sees the plant
        redacted = patterns.redact(planted.text)
        assert not _leaks(planted.value, planted.kind, redacted), (planted.kind, planted.text)
        assert f"[{planted.kind}]" in redacted
    for text in NEGATIVES:
        assert patterns.redact(text) == text


@pytest.fixture(scope="module")
def corpus_con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    rows = [(i, p.text) for i, p in enumerate(PLANTED)] + [(len(PLANTED) + i, t) for i, t in enumerate(NEGATIVES)]
    con.execute("create table corpus (id integer, v varchar)")
    con.executemany("insert into corpus values (?, ?)", rows)
    return con


@pytest.mark.dbt
@pytest.mark.parametrize("target", ["local", "athena", "redshift"])
def test_the_sql_patterns_find_and_redact_what_python_does_on_every_engine(
    target: str, corpus_con: duckdb.DuckDBPyConnection
) -> None:
    sql = compiled_for_duckdb(
        target, "select id, {{ pii_text_matches('v') }} as hit, {{ pii_text_redacted('v') }} as red from corpus"
    )
    rows = {i: (hit, red) for i, hit, red in corpus_con.execute(sql).fetchall()}
    for i, planted in enumerate(PLANTED):
        hit, red = rows[i]
        assert hit, (target, planted.kind, planted.text)
        assert not _leaks(planted.value, planted.kind, red), (target, planted.kind, planted.text)
        assert not patterns.matches(red), (target, planted.kind, planted.text)
    for j, text in enumerate(NEGATIVES):
        hit, red = rows[len(PLANTED) + j]
        assert not hit and red == text, (target, text)
