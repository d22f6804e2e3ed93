"""`taglake verify`'s command line: progress on stderr, the report on stdout, the parse cache unless --no-cache."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from project_copy import run_taglake

from taglake.verify import suite
from taglake.verify.parse_cache import ParseCache


def _fake_verify(seen: dict[str, Any]) -> Any:
    def verify(project: Any, targets: Any, **kwargs: Any) -> suite.Verification:
        seen.update(kwargs, targets=targets)
        with kwargs["progress"].step("compile athena"):
            pass
        return suite.Verification(compiled={}, conformance_skipped="not asked for")

    return verify


def test_progress_goes_to_stderr_and_the_report_to_stdout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}
    monkeypatch.setattr(suite, "verify", _fake_verify(seen))
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    result = run_taglake(["verify", "--no-conformance", "--artifacts", str(tmp_path / "artifacts")], env)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[:2] == ["verify: compile athena …", "verify: compile athena: 0 s"]
    assert "verify:" not in result.stdout and "conformance: skipped (not asked for)" in result.stdout
    assert "\x1b" not in result.stderr  # no colour codes: stderr is not a terminal here
    assert seen["cache"] == ParseCache(tmp_path / "xdg" / "taglake" / "verify-parse")


def test_no_cache_means_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}
    monkeypatch.setattr(suite, "verify", _fake_verify(seen))
    result = run_taglake(["verify", "--no-cache", "--no-conformance", "--artifacts", str(tmp_path / "a")])
    assert result.returncode == 0, result.stderr
    assert seen["cache"] is None
