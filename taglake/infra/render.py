"""`taglake infra render`: write the generated stacks (roles, catalog, lake-formation, retrieval, monitoring) to
infra/stacks/, or with `check` say which checked-in files differ from what the declarations give now."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from taglake.core.errors import TaglakeError
from taglake.infra import names
from taglake.infra.catalog import raw_and_keys_databases, render_catalog
from taglake.infra.lake_formation import render_lake_formation
from taglake.infra.monitoring import render_monitoring
from taglake.infra.retrieval import render_retrieval
from taglake.infra.roles import render_roles
from taglake.infra.template import to_yaml
from taglake.ops.metrics import NAMESPACE
from taglake.privacy.access_policy import load_access


class InfraError(TaglakeError):
    """A generated stack is missing or out of date."""


@dataclass(frozen=True)
class Rendered:
    name: str
    text: str


def render_all(project_dir: Path) -> list[Rendered]:
    """The generated stacks' YAML, in deployment order."""
    policy = load_access(project_dir)
    raw_dbs, keys_dbs = raw_and_keys_databases(project_dir)
    docs = {
        "roles": render_roles(policy, raw_dbs, keys_dbs, NAMESPACE),
        "catalog": render_catalog(policy, project_dir),
        "lake-formation": render_lake_formation(policy, raw_dbs, keys_dbs),
        "monitoring": render_monitoring(project_dir),
        "retrieval": render_retrieval(),
    }
    return [Rendered(name, to_yaml(docs[name])) for name in names.GENERATED]


def stacks_dir(project_dir: Path) -> Path:
    return project_dir / "infra" / "stacks"


def write_all(project_dir: Path, out: Path | None = None) -> list[tuple[str, str]]:
    """Write each generated stack; (file, written | unchanged)."""
    folder = out or stacks_dir(project_dir)
    folder.mkdir(parents=True, exist_ok=True)
    report = []
    for item in render_all(project_dir):
        path = folder / f"{item.name}.yaml"
        if path.is_file() and path.read_text(encoding="utf-8") == item.text:
            report.append((str(path), "unchanged"))
            continue
        path.write_text(item.text, encoding="utf-8")
        report.append((str(path), "written"))
    return report


def stale(project_dir: Path, folder: Path | None = None) -> list[str]:
    """The generated files under infra/stacks/ that are missing or differ from a fresh render."""
    folder = folder or stacks_dir(project_dir)
    out = []
    for item in render_all(project_dir):
        path = folder / f"{item.name}.yaml"
        if not path.is_file() or path.read_text(encoding="utf-8") != item.text:
            out.append(str(path))
    return out


def check(project_dir: Path) -> None:
    bad = stale(project_dir)
    if bad:
        folder = Path(bad[0]).parent
        files = ", ".join(Path(b).name for b in bad)
        raise InfraError(f"{folder}: {files} out of date with the declarations: run `taglake infra render`")
