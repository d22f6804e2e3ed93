"""The keyed pseudonym: byte-identical on DuckDB, Athena and Redshift, proven with golden vectors."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from offline_env import OFFLINE_TARGET_ENV

from taglake.core.project import Project
from taglake.privacy.dbt_runner import compile_inline
from taglake.privacy.tokens import PII_CLASSES, normalize, tokenize
from taglake.verify.transpile import to_duckdb

GOLDEN = json.loads((Path(__file__).parent / "golden" / "token_vectors.json").read_text(encoding="utf-8"))


def _golden_query() -> str:
    """One Jinja-SQL query that tokenizes every golden vector with the public test key."""

    def lit(text: str) -> str:
        return "'" + text.replace("'", "''") + "'"

    values = ",\n".join(f"({lit(v['id'])}, {lit(v['pii_class'])}, {lit(v['value'])})" for v in GOLDEN["vectors"])
    branches = "\n".join(f"when '{c}' then {{{{ tokenize('v.value', '{c}', keys='k') }}}}" for c in PII_CLASSES)
    return f"""
with k as (select {lit(GOLDEN["k_inner"])} as k_inner, {lit(GOLDEN["k_outer"])} as k_outer),
v as (select * from (values {values}) as t (id, pii_class, value))
select v.id, case v.pii_class {branches} end as token
from v cross join k
"""


def test_python_reference_matches_the_golden_vectors() -> None:
    for v in GOLDEN["vectors"]:
        assert tokenize(v["value"], v["pii_class"], GOLDEN["k_inner"], GOLDEN["k_outer"]) == v["token"], v["id"]


def test_equivalent_forms_share_a_token() -> None:
    token = {v["id"]: v["token"] for v in GOLDEN["vectors"]}
    assert token["mobile_plain"] == token["mobile_dashed"] == token["mobile_international"]
    assert token["email_mixed_case"] == token["email_lower"]
    assert token["nid_plain"] == token["nid_lower_spaced"]
    assert token["blank_is_null"] is None and token["empty_is_null"] is None
    assert len({t for t in token.values() if t}) == len([t for t in token.values() if t]) - 4


@pytest.mark.dbt
@pytest.mark.parametrize("target", ["local", "athena", "redshift"])
def test_golden_vectors_hold_on_each_engines_compiled_sql(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    for name, value in OFFLINE_TARGET_ENV[target].items():
        monkeypatch.setenv(name, value)
    project = Project.locate(artifacts_dir=tmp_path, duckdb_path=tmp_path / "t.duckdb")
    compiled = compile_inline(project, _golden_query(), target=target)
    if target == "local":
        sql = compiled
    else:
        # The engine's own SQL, translated to DuckDB to be run here; the hash calls must be the engine's.
        assert {"athena": "to_utf8(", "redshift": "sha2("}[target] in compiled
        sql = to_duckdb(compiled, target)
    got = dict(duckdb.sql(sql).fetchall())
    assert got == {v["id"]: v["token"] for v in GOLDEN["vectors"]}


def test_normalize_refuses_an_unknown_class() -> None:
    with pytest.raises(ValueError, match="unknown personal-data class"):
        normalize("x", "shoe_size")
