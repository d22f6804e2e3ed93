"""What a scan looks at by default is decided once (privacy.scan.scanner.default_folders / scan_project)."""

from pathlib import Path

from taglake.core.checkout import find_project_dir
from taglake.core.project import Project
from taglake.privacy.scan.scanner import default_folders


def test_the_default_folders_are_dbts_target_and_logs_that_exist(tmp_path: Path) -> None:
    project = Project.locate(artifacts_dir=tmp_path, duckdb_path=tmp_path / "db.duckdb")
    assert default_folders(project) == []
    (tmp_path / "logs").mkdir()
    assert default_folders(project) == [tmp_path / "logs"]
    (tmp_path / "target").mkdir()
    assert default_folders(project) == [tmp_path / "target", tmp_path / "logs"]


def test_no_command_spells_the_default_folders_itself() -> None:
    root = find_project_dir() / "taglake"
    for path in root.rglob("*.py"):
        if path.name != "scanner.py":
            assert "(project.target_path, project.log_path)" not in path.read_text(encoding="utf-8"), path
