"""The parse cache keeps a checker's problems by (checker version, dialect, text) and never trusts a bad file."""

from __future__ import annotations

from pathlib import Path

import pytest

from taglake.verify.parse_cache import ParseCache, default_folder


def test_the_folder_is_under_xdg_cache_home_else_home_dot_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_folder() == tmp_path / "xdg" / "taglake" / "verify-parse"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/not/allowed")  # the XDG specification: ignored when relative
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_folder() == tmp_path / "home" / ".cache" / "taglake" / "verify-parse"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_folder() == tmp_path / "home" / ".cache" / "taglake" / "verify-parse"


def test_problems_come_back_under_their_key_only(tmp_path: Path) -> None:
    cache = ParseCache(tmp_path)
    key = ParseCache.key(["sqlfluff 3 abc", "athena", "select 1"])
    assert cache.get(key) is None
    cache.put(key, ["unparsable at line 1"])
    assert cache.get(key) == ["unparsable at line 1"]
    assert cache.get(ParseCache.key(["sqlfluff 3 abc", "athena", "select 2"])) is None
    assert cache.get(ParseCache.key(["sqlfluff 3 abc", "redshift", "select 1"])) is None
    assert cache.get(ParseCache.key(["sqlfluff 4 abc", "athena", "select 1"])) is None


def test_only_the_problems_are_stored_never_the_sql(tmp_path: Path) -> None:
    cache = ParseCache(tmp_path)
    sql = "select 'A123456789' as canary"
    cache.put(ParseCache.key(["sqlglot 1", "athena", sql]), [])
    (stored,) = tmp_path.rglob("*.json")
    assert "canary" not in stored.read_text(encoding="utf-8") and "A123456789" not in stored.read_text(encoding="utf-8")


@pytest.mark.parametrize("content", ["{not json", '{"problems": "x"}', '{"problems": [1]}', "[]", ""])
def test_a_corrupt_file_is_a_miss(tmp_path: Path, content: str) -> None:
    cache = ParseCache(tmp_path)
    key = ParseCache.key(["sqlglot 1", "athena", "select 1"])
    cache.put(key, [])
    (stored,) = tmp_path.rglob("*.json")
    stored.write_text(content, encoding="utf-8")
    assert cache.get(key) is None
    cache.put(key, ["no statement"])  # the next parse replaces it
    assert cache.get(key) == ["no statement"]


def test_a_folder_that_cannot_be_written_is_no_failure(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    cache = ParseCache(blocker / "cache")  # a folder under a file cannot be made
    key = ParseCache.key(["sqlglot 1", "athena", "select 1"])
    cache.put(key, [])
    assert cache.get(key) is None
