"""`taglake query` outside the system targets reaches the consumption relations only — those of the consumption
layers of the access declaration (vars.access.consumption_layers: marts, reference seeds, snapshots), read from that
declaration — every way to the raw lake, the key file, the other layers, files, extensions or the configuration is
refused — by the engine's own lock, not only by a check of the text — and legitimate queries, snapshot queries and
every analysis still run."""

from __future__ import annotations

import csv
import dataclasses
import json
import shutil
from pathlib import Path

import duckdb
import pytest

from taglake import cli
from taglake.core.project import Project
from taglake.ops import consumption, query, sql_policy
from taglake.privacy.access_policy import load_access
from taglake.privacy.dbt_runner import compile_inline, run_dbt
from taglake.privacy.keys import read_key

pytestmark = pytest.mark.dbt

ANALYSES = sorted(p.stem for p in (Project.locate().root / "analyses").glob("*.sql"))


@pytest.fixture(scope="module")
def secrets_of(built_project: Project) -> list[str]:
    """What must never come out: both key parts and every clear national ID and mobile of the raw CRM files."""
    key = read_key(built_project.key_file)
    found = {key.k_inner, key.k_outer}
    for path in (built_project.lake_dir / "raw" / "crm" / "customers").rglob("*.csv"):
        with path.open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                found.update(v for v in (row.get("national_id"), row.get("mobile")) if v and len(v) >= 8)
    assert len(found) > 100
    return sorted(found)


def _crm_file(project: Project) -> Path:
    return max((project.lake_dir / "raw" / "crm" / "customers").rglob("*.csv"), key=lambda p: p.stat().st_size)


def _cards_file(project: Project) -> Path:
    return next((project.lake_dir / "raw" / "cards" / "transactions").rglob("*.parquet"))


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _assert_nothing_leaked(text: str, secrets: list[str]) -> None:
    folded = text.casefold()
    leaked = [s for s in secrets if s.casefold() in folded]
    assert not leaked, f"{len(leaked)} secret values in the output"


# Each way in, as ad hoc SQL; {key}, {crm}, {cards}, {lake} and {build} are filled in with the real paths.
HOSTILE_SQL = {
    "read_csv of the key file": "select * from read_csv('{key}')",
    "read_csv_auto of the key file": "select * from read_csv_auto('{key}', header = true)",
    "the key file as a table": "select * from '{key}'",
    "read_text of the key file": "select content from read_text('{key}')",
    "read_blob of the key file": "select content from read_blob('{key}')",
    "read_csv of the raw crm file": "select * from read_csv('{crm}')",
    "read_csv of a glob of the lake": "select * from read_csv('{lake}/raw/crm/customers/**/*.csv')",
    "read_parquet of raw cards": "select * from read_parquet('{cards}')",
    "glob of the lake": "select * from glob('{lake}/**')",
    "sniff_csv of the key file": "select * from sniff_csv('{key}')",
    "attach the build": "attach '{build}' as full_build (read_only)",
    "attach with a select after it": "attach '{build}' as b; select * from b.taglake_staging.stg_crm__customers",
    "copy to a file": "copy (select * from taglake_marts.dim_customers) to '{out}'",
    "export the database": "export database '{outdir}'",
    "install an extension": "install httpfs",
    "load an extension": "load httpfs",
    "set external access back on": "set enable_external_access = true",
    "reset the configuration": "reset enable_external_access",
    "pragma": "pragma enable_profiling",
    "call": "call duckdb_settings()",
    "two statements": "select 1; select * from read_csv('{key}')",
    "query_table with a built name": "select * from query_table('taglake_' || 'staging.stg_crm__customers')",
    "query with a built statement": "select * from query('select * from taglake_' || 'staging.stg_crm__customers')",
    "a staging relation": "select * from taglake_staging.stg_crm__customers",
    "an intermediate relation": "select * from taglake_intermediate.int_raw_rows_classified",
    "the vault by name": "select * from taglake_vault.vault_customer_identities",
    "the vault by a built name": "select * from query_table('taglake_va' || 'ult.vault_customer_identities')",
    "a source() in Jinja": "select * from {{{{ source('crm', 'customers') }}}}",
    "the key source in Jinja": "select * from {{{{ source('privacy', 'masking_keys') }}}}",
    "run_query in Jinja": "select '{{{{ run_query(\"select * from read_csv(''{key}'')\") }}}}' as x",
    "env_var in Jinja": "select '{{{{ env_var(\"TAGLAKE_KEY_FILE\") }}}}' as x",
    "a Jinja statement": "{{% set x = 1 %}}select 1",
    "ref of a staging model": "select * from {{{{ ref('stg_crm__customers') }}}}",
    "ref of an intermediate model": "select * from {{{{ ref('int_customer_features_joined') }}}}",
    "ref of a vault model": "select * from {{{{ ref('vault_customer_identities') }}}}",
    "a base model": "select * from taglake_staging.base_crm__customers",
}


@pytest.mark.redteam
@pytest.mark.parametrize("way_in", list(HOSTILE_SQL))
def test_each_way_in_is_refused_in_one_line(
    way_in: str, as_built: Project, secrets_of: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_file = tmp_path / "out.csv"
    sql = HOSTILE_SQL[way_in].format(
        key=as_built.key_file,
        crm=_crm_file(as_built),
        cards=_cards_file(as_built),
        lake=as_built.lake_dir,
        build=as_built.duckdb_path,
        out=out_file,
        outdir=tmp_path / "exported",
    )
    code, out, err = _run(["query", "--sql", sql], capsys)
    assert code != 0, f"{way_in}: ran"
    assert len(err.splitlines()) == 1 and err.startswith("taglake query: "), err
    assert "Traceback" not in err
    _assert_nothing_leaked(out + err, secrets_of)
    assert not out_file.exists() and not (tmp_path / "exported").exists()


@pytest.mark.redteam
def test_hostile_sql_from_a_file_is_refused_too(
    as_built: Project, secrets_of: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sql_file = tmp_path / "q.sql"
    sql_file.write_text(f"select * from read_csv('{as_built.key_file}')", encoding="utf-8")
    code, out, err = _run(["query", "--file", str(sql_file)], capsys)
    assert code == 1 and len(err.splitlines()) == 1
    _assert_nothing_leaked(out + err, secrets_of)


@pytest.mark.redteam
@pytest.mark.parametrize(
    "name", ["../models/staging/crm/stg_crm__customers", "/etc/passwd", "CARD_SPEND_BY_CATEGORY", "..", ""]
)
def test_an_analysis_name_cannot_reach_another_file(
    name: str, as_built: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(["query", name], capsys)
    assert code != 0 and not out
    assert len(err.splitlines()) == 1


@pytest.mark.redteam
def test_the_locked_connection_itself_refuses_files_extensions_attach_and_settings(
    built_project: Project, secrets_of: list[str]
) -> None:
    """The engine's lock holds on its own, without the statement check in front of it."""
    published = consumption.publish(built_project.duckdb_path)
    hostile = [
        f"select * from read_csv('{built_project.key_file}')",
        f"select * from read_text('{_crm_file(built_project)}')",
        f"select * from read_parquet('{_cards_file(built_project)}')",
        f"select * from glob('{built_project.lake_dir}/**')",
        f"attach '{built_project.duckdb_path}' as b (read_only)",
        f"copy (select 1) to '{built_project.lake_dir.parent}/copied.csv'",
        "install httpfs",
        "load httpfs",
        "set enable_external_access = true",
        "set lock_configuration = false",
        "reset enable_external_access",
        "select * from taglake_staging.stg_crm__customers",
        "select * from query_table('taglake_' || 'staging.stg_crm__customers')",
        "create table taglake_marts.planted as select 1 as x",
    ]
    with consumption.locked_connection(published, catalog=built_project.duckdb_path.stem) as con:
        for sql in hostile:
            with pytest.raises(duckdb.Error):
                con.execute(sql).fetchall()
        settings = dict(con.execute("select name, value from duckdb_settings()").fetchall())
        databases = {r[0] for r in con.execute("select database_name from duckdb_databases()").fetchall()}
    for name, value in consumption.LOCKED_SETTINGS.items():
        assert settings[name] == value, name
    assert databases == {built_project.duckdb_path.stem, "memory", "system", "temp"}
    assert not (built_project.lake_dir.parent / "copied.csv").exists()


def test_the_consumption_file_holds_exactly_the_relations_of_the_declared_consumption_layers(
    built_project: Project,
) -> None:
    layers = load_access().consumption_layers
    assert set(layers) == {"marts", "reference", "snapshots"}, "docs/privacy.md promises these three"
    published = consumption.publish(built_project.duckdb_path)
    assert published == consumption.consumption_path(built_project.duckdb_path)
    relations = consumption.consumption_relations(published)
    schemas = {schema for schema, _ in relations}
    assert schemas == {f"taglake_{layer}" for layer in layers}
    with duckdb.connect(str(built_project.duckdb_path), read_only=True) as con:
        expected = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in ('taglake_marts', 'taglake_reference', 'taglake_snapshots') order by 1, 2"
        ).fetchall()
    assert relations == expected
    assert {t for s, t in relations if s == "taglake_snapshots"} == {
        "snap_customer_tags",
        "snap_customer_attributes",
        "snap_model_scores",
    }


@pytest.mark.redteam
def test_no_column_of_the_consumption_file_is_classified_clear(built_project: Project) -> None:
    """The snapshots (like the marts) hold tokens, generalised values and codes: by the classification the Lake
    Formation tags are made from (pii_column_kinds), no column the consumption file holds is `clear`."""
    kinds = json.loads(compile_inline(built_project, "{{ tojson(pii_column_kinds()) }}", target="local"))
    assert "clear" in kinds.values() and kinds.get("customer_token") == "tokenized"
    published = consumption.publish(built_project.duckdb_path)
    with duckdb.connect(str(published), read_only=True) as con:
        columns = con.execute(
            "select table_schema, table_name, lower(column_name) from information_schema.columns"
        ).fetchall()
    clear = [c for c in columns if kinds.get(c[2]) == "clear"]
    assert not clear, clear
    snapshot_kinds = {kinds.get(c, "none") for s, _, c in columns if s == "taglake_snapshots"}
    assert snapshot_kinds == {"tokenized", "generalized", "none"}


def test_the_consumption_layers_follow_the_access_declaration(built_project: Project, tmp_path: Path) -> None:
    """Both engines' policies read the layers from vars.access.consumption_layers: take snapshots off the
    declaration (in a copy) and the consumption file, the Athena check and ref() all drop them."""
    narrowed = tmp_path / "project"
    narrowed.mkdir()
    text = (Project.locate().root / "dbt_project.yml").read_text(encoding="utf-8")
    declared = "consumption_layers: [marts, reference, snapshots]"
    assert text.count(declared) == 1
    (narrowed / "dbt_project.yml").write_text(text.replace(declared, "consumption_layers: [marts, reference]"))
    snapshot_sql = "select * from taglake_snapshots.snap_customer_tags"

    build = tmp_path / "taglake.duckdb"
    shutil.copy2(built_project.duckdb_path, build)
    full = consumption.publish(build)
    assert "taglake_snapshots" in {s for s, _ in consumption.consumption_relations(full)}
    again = consumption.publish(build, project_dir=narrowed)  # the copy is current, but holds a layer taken off
    assert {s for s, _ in consumption.consumption_relations(again)} == {"taglake_marts", "taglake_reference"}

    sql_policy.check_athena_sql(snapshot_sql, "taglake")
    with pytest.raises(sql_policy.QueryRefused):
        sql_policy.check_athena_sql(snapshot_sql, "taglake", narrowed)
    with pytest.raises(sql_policy.QueryRefused):
        sql_policy.check_athena_sql(snapshot_sql, None, narrowed)

    root = Project.locate().root
    models = sql_policy.consumption_models(root)
    assert models.layer_and_alias("snap_customer_tags", None) == ("snapshots", "snap_customer_tags")
    narrowed_models = sql_policy.consumption_models(root, load_access(narrowed).consumption_layers)
    with pytest.raises(sql_policy.QueryRefused):
        narrowed_models.layer_and_alias("snap_customer_tags", None)


def test_the_consumption_file_is_published_again_when_the_build_is_newer(
    built_project: Project, tmp_path: Path
) -> None:
    build = tmp_path / "taglake.duckdb"
    shutil.copy2(built_project.duckdb_path, build)
    project = dataclasses.replace(built_project, duckdb_path=build)
    first = query.run_query(project, "local", "select count(*) from taglake_reference.tag_catalog")
    with duckdb.connect(str(build)) as con:
        con.execute("create table taglake_marts.added_after as select 42 as answer")
    second = query.run_query(project, "local", "select answer from taglake_marts.added_after")
    assert first.rows[0][0] > 0 and second.rows == [(42,)]


def test_a_mart_query_runs_plain_with_a_ref_a_version_and_a_seed(
    as_built: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    with duckdb.connect(str(as_built.duckdb_path), read_only=True) as con:
        (customers,) = con.execute("select count(*) from taglake_marts.dim_customers").fetchone()
        (tags,) = con.execute("select count(*) from taglake_reference.tag_catalog").fetchone()
    for sql, expected in [
        ("select count(*) as n from taglake_marts.dim_customers", customers),
        ("select count(*) as n from {{ ref('dim_customers') }}", customers),
        ("select count(*) as n from {{ ref('customer_tag_profile', v=1) }}", customers),
        ("select count(*) as n from {{ref('customer_tag_profile')}}", customers),
        ('select count(*) as n from {{ ref("tag_catalog") }}', tags),
        ("select count(*) as n from query_table('taglake_marts.' || 'dim_customers')", customers),
    ]:
        code, out, err = _run(["query", "--sql", sql], capsys)
        assert code == 0, (sql, err)
        assert out.splitlines()[2].strip() == f"{expected:,}", sql


def test_a_snapshot_query_runs_for_the_analyst_plain_and_with_a_ref(
    as_built: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    with duckdb.connect(str(as_built.duckdb_path), read_only=True) as con:
        counts = {
            name: con.execute(f"select count(*) from taglake_snapshots.{name}").fetchone()[0]
            for name in ("snap_customer_tags", "snap_customer_attributes", "snap_model_scores")
        }
    assert all(counts.values()), counts
    for name, expected in counts.items():
        for sql in (
            f"select count(*) as n from taglake_snapshots.{name}",
            f"select count(*) as n from {{{{ ref('{name}') }}}}",
        ):
            code, out, err = _run(["query", "--sql", sql], capsys)
            assert code == 0, (sql, err)
            assert out.splitlines()[2].strip() == f"{expected:,}", sql


@pytest.fixture(scope="module")
def compiled_analyses(built_project: Project, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Every analysis compiled by dbt for `local` in one call (what `taglake query NAME` compiles one by one)."""
    project = dataclasses.replace(built_project, target_path=tmp_path_factory.mktemp("lockdown") / "target")
    run_dbt(project, ["compile", "--select", "resource_type:analysis"], target="local", quiet=True)
    return {
        Path(p).stem: Path(p).read_text(encoding="utf-8") for p in project.target_path.glob("compiled/*/analyses/*.sql")
    }


@pytest.mark.parametrize("name", ANALYSES)
def test_every_analysis_runs_on_the_locked_consumption_relations(
    name: str, compiled_analyses: dict[str, str], built_project: Project
) -> None:
    sql = query.resolve_sql(built_project, "local", sql=compiled_analyses[name])
    result = query.run_query(built_project, "local", sql)
    assert result.rows, f"{name} returned no rows on the consumption relations"
