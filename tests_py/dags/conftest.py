"""What the DAG's tests share: the DAG's helper package (dags/taglake_ops), imported as MWAA imports it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def commands():  # type: ignore[no-untyped-def]
    """dags/taglake_ops/commands.py, the DAG's one place for command lines."""
    sys.path.insert(0, str(ROOT / "dags"))
    try:
        from taglake_ops import commands

        yield commands
    finally:
        sys.path.remove(str(ROOT / "dags"))
