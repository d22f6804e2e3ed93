"""scripts/tool_venv.sh: a tool's own venv under the cache folder, keyed by its requirements, made once and reused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "tool_venv.sh"


def _run(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TAGLAKE_TOOL_CACHE": str(cache)}
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, env=env, check=False)


@pytest.mark.tool_venv
def test_a_tool_venv_is_made_once_keyed_by_its_requirements_and_reused(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    req = tmp_path / "tool.txt"
    constraints = tmp_path / "tool-constraints.txt"
    constraints.write_text("# nothing pinned\n", encoding="utf-8")
    req.write_text("# a tool with no package: the venv alone\n-c tool-constraints.txt\n", encoding="utf-8")

    first = _run("tool", str(req), sys.executable, cache=cache)
    assert first.returncode == 0, first.stderr
    venv = Path(first.stdout.strip())
    assert venv.parent == cache and venv.name.startswith("tool-")
    assert (venv / "bin" / "python").exists() and "making" in first.stderr
    made = (venv / ".complete").stat().st_mtime_ns

    again = _run("tool", str(req), sys.executable, cache=cache)
    assert again.returncode == 0 and Path(again.stdout.strip()) == venv
    assert again.stderr == "" and (venv / ".complete").stat().st_mtime_ns == made  # reused, nothing installed

    constraints.write_text("# a constraint changed\n", encoding="utf-8")
    changed = _run("tool", str(req), sys.executable, cache=cache)
    assert changed.returncode == 0 and Path(changed.stdout.strip()) != venv  # a constraint is part of the key


def test_a_missing_requirements_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = _run("tool", str(tmp_path / "nope.txt"), cache=tmp_path / "cache")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"tool_venv: {tmp_path / 'nope.txt'}: no such requirements file"]
    assert not (tmp_path / "cache").exists()
