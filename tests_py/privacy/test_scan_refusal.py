"""`taglake scan-pii` never reports "clean" for a scan that looked at nothing: a wrong lake path, a lake without a
personal value, a missing, unreadable or empty database, a key file that cannot be read, a folder that does not
exist. Each is refused with one line on stderr and exit 2 (hits exit 1, clean 0)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from taglake.cli import main
from taglake.lake.generate import generate_lake
from taglake.privacy.keys import init_key
from taglake.privacy.scan.scanner import EXIT_CLEAN, EXIT_HITS, EXIT_NOTHING_SCANNED

pytestmark = pytest.mark.redteam


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("refusal") / "lake"
    generate_lake(out, customers=40, days=2, seed=3, progress=False)
    return out


@pytest.fixture
def place(tmp_path: Path) -> dict[str, Path]:
    """A database with one text column holding nothing personal, a folder of harmless files, a key file."""
    db = tmp_path / "build.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("create table marts_demo as select 'token_' || range as customer_token from range(5)")
    folder = tmp_path / "target"
    folder.mkdir()
    (folder / "run_results.json").write_text('{"results": []}\n', encoding="utf-8")
    key = tmp_path / "secrets" / "masking_keys.csv"
    init_key(key)
    return {"db": db, "folder": folder, "key": key}


def _scan(capsys: pytest.CaptureFixture[str], raw_lake: Path, place: dict[str, Path], **override: Path) -> tuple:
    args = {"lake": raw_lake, "db": place["db"], "folder": place["folder"], "key-file": place["key"], **override}
    code = main(["scan-pii", *[x for name, value in args.items() for x in (f"--{name}", str(value))]])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_scan_of_a_harmless_build_is_clean_and_a_planted_id_is_a_hit(capsys, lake, place) -> None:
    code, out, err = _scan(capsys, lake, place)
    assert (code, err) == (EXIT_CLEAN, "")
    assert "no clear personal data" in out
    planted = next(v for v in (lake / "raw" / "crm" / "customers").rglob("*.csv")).read_text().splitlines()[1]
    national_id = planted.split(",")[0]
    with duckdb.connect(str(place["db"])) as con:
        con.execute("insert into marts_demo values (?)", [national_id])
    code, out, _ = _scan(capsys, lake, place)
    assert code == EXIT_HITS
    assert national_id not in out


def _empty_lake(tmp: Path) -> Path:
    (tmp / "empty_lake" / "raw").mkdir(parents=True)
    return tmp / "empty_lake"


def _not_a_database(tmp: Path) -> Path:
    (tmp / "junk.duckdb").write_bytes(b"this is not a database\n" * 100)
    return tmp / "junk.duckdb"


def _empty_database(tmp: Path) -> Path:
    duckdb.connect(str(tmp / "empty.duckdb")).close()
    return tmp / "empty.duckdb"


def _broken_key(tmp: Path) -> Path:
    (tmp / "key.csv").write_text("key_version,k_inner\n1,abc\n", encoding="utf-8")
    return tmp / "key.csv"


@pytest.mark.parametrize(
    ("option", "make", "said"),
    [
        ("lake", lambda tmp: tmp / "no_such_lake", "no raw/ folder"),
        ("lake", _empty_lake, "no canaries"),
        ("db", lambda tmp: tmp / "no_such.duckdb", "no database there"),
        ("db", _not_a_database, "not a readable DuckDB database"),
        ("db", _empty_database, "no relation with a text column"),
        ("folder", lambda tmp: tmp / "no_such_folder", "no such folder"),
        ("key-file", lambda tmp: tmp / "no_such_key.csv", "key file cannot be read"),
        ("key-file", _broken_key, "key file cannot be read"),
    ],
    ids=[
        "wrong-lake-path",
        "lake-without-values",
        "missing-database",
        "not-a-database",
        "database-without-text",
        "missing-folder",
        "missing-key",
        "malformed-key",
    ],
)
def test_nothing_to_scan_is_refused_with_one_line_and_its_own_exit_code(
    capsys, lake, place, tmp_path, option: str, make: Callable[[Path], Path], said: str
) -> None:
    code, out, err = _scan(capsys, lake, place, **{option: make(tmp_path)})
    assert code == EXIT_NOTHING_SCANNED != EXIT_HITS
    assert "no clear personal data" not in out
    lines = err.strip().splitlines()
    assert len(lines) == 1 and said in lines[0], err
    assert "Traceback" not in err


def test_the_help_documents_the_refusal_exit_code(capsys) -> None:
    assert main(["scan-pii", "--help"]) == 0  # main() ends every exit itself, --help included
    text = " ".join(capsys.readouterr().out.split())
    assert "2 nothing scanned" in text and "never reported clean" in text
