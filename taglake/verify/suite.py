"""`taglake verify`: prove the Athena and Redshift targets as far as an offline machine can (docs/verification.md).

1. compile every node for each AWS target with no credentials and no network (taglake.verify.offline_compile);
2. parse every compiled node in its engine's dialect with sqlglot and sqlfluff;
3. with a local build, run each engine's compiled SQL for every mart, and every model upstream of it, on the local
   lake and compare the result with the local build (taglake.verify.conformance).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from taglake.core.project import Project
from taglake.privacy.dbt_runner import run_dbt
from taglake.verify.conformance import MartComparison, run_conformance
from taglake.verify.offline_compile import CompiledProject, ParseFailure, summary, verify_offline

DEFAULT_TARGETS = ("athena", "redshift")


@dataclass
class Verification:
    """What `verify` found: per target, the compiled project and its parse failures; the conformance results."""

    compiled: dict[str, tuple[CompiledProject, list[ParseFailure]]]
    conformance: list[MartComparison] = field(default_factory=list)
    conformance_skipped: str | None = None

    @property
    def ok(self) -> bool:
        parses = all(not failures for _, failures in self.compiled.values())
        return parses and all(c.equal for c in self.conformance)


def verify(project: Project, targets: Sequence[str], *, artifacts_dir: Path, conformance: bool = True) -> Verification:
    """Steps 1–3 above for `targets`; conformance is skipped (and says why) when there is no local build."""
    result = Verification(compiled=verify_offline(project, targets, artifacts_dir=artifacts_dir))
    if not conformance:
        result.conformance_skipped = "not asked for"
        return result
    if not project.duckdb_path.is_file():
        result.conformance_skipped = f"no local build at {project.duckdb_path}: run `taglake build` first"
        return result
    local = replace(project, target_path=artifacts_dir / "local" / "target", log_path=artifacts_dir / "local" / "logs")
    run_dbt(local, ["parse"], target="local", quiet=True)
    manifest = local.target_path / "manifest.json"
    for compiled, _ in result.compiled.values():
        result.conformance.extend(run_conformance(compiled, manifest, project.duckdb_path, upstream_too=True))
    return result


def report(result: Verification) -> str:
    lines = [summary(result.compiled)]
    if result.conformance_skipped:
        lines.append(f"conformance: skipped ({result.conformance_skipped})")
    else:
        equal = sum(c.equal for c in result.conformance)
        lines.append(f"conformance: {equal} of {len(result.conformance)} models equal the local build")
        lines.extend(f"  {c}" for c in result.conformance if not c.equal)
    return "\n".join(lines)
