"""Fixtures the ops tests share."""

from __future__ import annotations

import pytest

from taglake.core.project import Project


@pytest.fixture
def as_built(built_project: Project, monkeypatch: pytest.MonkeyPatch) -> Project:
    """The CLI pointed at the session's local build (its lake, database, artifacts and key)."""
    for name, value in built_project.dbt_env().items():
        if name.startswith(("TAGLAKE_", "DBT_TARGET_PATH", "DBT_LOG_PATH")):
            monkeypatch.setenv(name, value)
    for name in ("TAGLAKE_TARGET", "DBT_TARGET", "TAGLAKE_SYSTEM_IDENTITY", "TAGLAKE_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    return built_project
