"""`taglake verify`: prove the Athena and Redshift targets as far as an offline machine can (docs/verification.md).

1. compile every node for each AWS target with no credentials and no network (taglake.verify.offline_compile), the
   targets side by side;
2. parse every compiled node in its engine's dialect with sqlglot and sqlfluff, on every core, results kept on disk
   by text, dialect and checker version (taglake.verify.parse_cache);
3. with a local build, run each engine's compiled SQL for every mart, and every model upstream of it, on the local
   lake and compare the result with the local build (taglake.verify.conformance).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from taglake.core.project import Project
from taglake.privacy.dbt_runner import run_dbt
from taglake.verify.conformance import MartComparison, run_conformance
from taglake.verify.offline_compile import CompiledProject, ParseFailure, summary, verify_offline
from taglake.verify.parse_cache import ParseCache
from taglake.verify.progress import Progress

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


def verify(
    project: Project,
    targets: Sequence[str],
    *,
    artifacts_dir: Path,
    conformance: bool = True,
    cache: ParseCache | None = None,
    progress: Progress | None = None,
) -> Verification:
    """Steps 1–3 above for `targets`; conformance is skipped (and says why) when there is no local build. The local
    project's parse (for conformance) runs beside the offline compiles; parse results come from `cache` where it
    has them; progress lines go to `progress`."""
    progress = progress or Progress()
    local = replace(project, target_path=artifacts_dir / "local" / "target", log_path=artifacts_dir / "local" / "logs")
    skipped = None
    if not conformance:
        skipped = "not asked for"
    elif not project.duckdb_path.is_file():
        skipped = f"no local build at {project.duckdb_path}: run `taglake build` first"
    with ThreadPoolExecutor(max_workers=1) as beside:
        parsed = None if skipped else beside.submit(_parse_local, local, progress)
        result = Verification(
            compiled=verify_offline(project, targets, artifacts_dir=artifacts_dir, cache=cache, progress=progress)
        )
        if parsed is not None:
            parsed.result()
    if skipped:
        result.conformance_skipped = skipped
        return result
    manifest = local.target_path / "manifest.json"
    for target, (compiled, _) in result.compiled.items():
        with progress.step(f"conformance {target}") as counter:
            result.conformance.extend(
                run_conformance(compiled, manifest, project.duckdb_path, upstream_too=True, counter=counter)
            )
    return result


def _parse_local(local: Project, progress: Progress) -> None:
    with progress.step("parse the local project (for conformance)"):
        run_dbt(local, ["parse"], target="local", quiet=True)


def report(result: Verification) -> str:
    lines = [summary(result.compiled)]
    if result.conformance_skipped:
        lines.append(f"conformance: skipped ({result.conformance_skipped})")
    else:
        equal = sum(c.equal for c in result.conformance)
        lines.append(f"conformance: {equal} of {len(result.conformance)} models equal the local build")
        lines.extend(f"  {c}" for c in result.conformance if not c.equal)
    return "\n".join(lines)
