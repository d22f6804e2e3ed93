"""taglake replicate on RDS Oracle, without a server: every statement a run issues, compiled by SQLAlchemy's
Oracle dialect as a 19c connection sets it up, checked for its types, its MERGE and its identifiers (held to 30
bytes, the limit before Oracle 12.2, so the replica works on every version RDS offers)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import sqlglot
import yaml
from sqlglot import exp

from taglake.core.project import Project
from taglake.replicate.spec import ReplicationError, TableSpec, load_specs
from taglake.replicate.statements import every_statement, oracle_dialect

pytestmark = [pytest.mark.replication, pytest.mark.dbt]

ORACLE_12_1_MAX_IDENTIFIER = 30  # bytes; 128 from 12.2 on
_TYPE = {
    "varchar": "VARCHAR2",
    "date": "DATE",
    "boolean": "SMALLINT",
    "double": "BINARY_DOUBLE",
    "integer": "INTEGER",
    "bigint": "NUMBER(19)",
}


@pytest.fixture(scope="module")
def specs(built_project: Project) -> list[TableSpec]:
    return load_specs(built_project.target_path / "manifest.json", built_project.root)


@pytest.fixture(scope="module")
def statements(specs: list[TableSpec]) -> list[tuple[str, str]]:
    return every_statement(oracle_dialect(), specs, "taglake_app")


def test_oracle_ddl_maps_every_contract_type(specs: list[TableSpec], statements: list[tuple[str, str]]) -> None:
    ddl = dict(statements)
    for spec in specs:
        create = ddl[f"create {spec.name}"]
        for col in spec.columns:
            line = next(ln.strip() for ln in create.splitlines() if ln.strip().startswith(col.name + " "))
            assert line.split(" ", 1)[1].startswith(_TYPE[col.data_type]), (spec.name, line)
            assert line.endswith("NOT NULL,") or line.endswith("NOT NULL") or col.nullable, line
            if col.name in spec.unique_key and col.data_type == "varchar":
                assert "VARCHAR2(256 CHAR)" in line  # short enough for Oracle's index key limit
        assert f"PRIMARY KEY ({', '.join(spec.unique_key)})" in create
        assert "BOOLEAN" not in create and "TEXT" not in create and "CLOB" not in create


def test_oracle_merge_parses_as_one_merge_on_the_unique_key(
    specs: list[TableSpec], statements: list[tuple[str, str]]
) -> None:
    merges = {what.split(" ", 1)[1]: sql for what, sql in statements if what.startswith("merge ")}
    assert set(merges) == {s.name for s in specs}
    for spec in specs:
        sql = merges[spec.name]
        tree = sqlglot.parse_one(sql, read="oracle")
        assert isinstance(tree, exp.Merge), spec.name
        assert re.search(r" using taglake_app\.\w+_stg s on \(", sql), sql  # Oracle: no AS, ON in parentheses
        keys_in_on = set(re.findall(r"t\.(\w+) = s\.\1", sql.split(" on (", 1)[1].split(")", 1)[0]))
        assert keys_in_on == set(spec.unique_key)
        update = sql.split("when matched then update set ", 1)[1].split(" when not matched", 1)[0]
        assert not any(f"{k} =" in update for k in spec.unique_key)  # Oracle refuses to update ON columns
        assert "when not matched then insert" in sql
        assert " as " not in sql.lower()


def test_oracle_identifiers_fit_30_bytes(statements: list[tuple[str, str]]) -> None:
    for what, sql in statements:
        for ident in re.findall(r"[A-Za-z_][A-Za-z0-9_$#]*", re.sub(r"'[^']*'", "", sql)):
            assert len(ident.encode()) <= ORACLE_12_1_MAX_IDENTIFIER, (what, ident)
        tree = None if what.startswith("create") else sqlglot.parse_one(re.sub(r":\w+", "1", sql), read="oracle")
        assert tree is None or tree.find(exp.Table) is not None, what


def test_every_statement_compiles_without_a_server(statements: list[tuple[str, str]]) -> None:
    kinds = {what.split(" ")[0] for what, _ in statements}
    assert kinds == {"create", "select", "delete", "insert", "count", "empty", "load", "merge"}
    for what, sql in statements:
        if what.startswith(("load", "delete", "insert")):
            assert re.search(r":\w+", sql), what  # bound parameters, never literal values


def _declaration_copy(built_project: Project, tmp_path: Path, relations: dict) -> Path:
    doc = yaml.safe_load((built_project.root / "dbt_project.yml").read_text(encoding="utf-8"))
    doc["vars"]["replication"]["relations"] = relations
    (tmp_path / "dbt_project.yml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    shutil.copytree(built_project.root / "seeds", tmp_path / "seeds")
    return tmp_path


def test_a_mart_the_application_does_not_read_is_refused(built_project: Project, tmp_path: Path) -> None:
    declared = yaml.safe_load((built_project.root / "dbt_project.yml").read_text(encoding="utf-8"))["vars"][
        "replication"
    ]["relations"]
    project_dir = _declaration_copy(
        built_project, tmp_path, {**declared, "dim_customers": {"unique_key": ["customer_token"]}}
    )
    with pytest.raises(
        ReplicationError, match=r"^vars\.replication\.relations\.dim_customers: role application does not read it"
    ):
        load_specs(built_project.target_path / "manifest.json", project_dir)


def test_a_served_mart_left_undeclared_is_refused(built_project: Project, tmp_path: Path) -> None:
    project_dir = _declaration_copy(built_project, tmp_path, {"tag_catalog": {"unique_key": ["tag_code"]}})
    with pytest.raises(ReplicationError, match=r"not in vars\.replication\.relations: declare it"):
        load_specs(built_project.target_path / "manifest.json", project_dir)
