"""`taglake verify`: prove the Athena and Redshift targets as far as an offline machine can (docs/verification.md).

1. compile every node for each AWS target with no credentials and no network (taglake.offline);
2. parse every compiled node in its engine's dialect with sqlglot and sqlfluff;
3. with a local build, run each engine's compiled SQL for every mart, and every model upstream of it, on the local
   lake and compare the result with the local build (taglake.conformance).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from taglake.conformance import MartComparison, run_conformance
from taglake.dbt import run_dbt
from taglake.offline import AWS_TARGETS, CompiledProject, ParseFailure, summary, verify_offline
from taglake.project import Project

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


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "verify",
        help="compile every node for Athena and Redshift offline, parse it in each dialect, check conformance",
        description="Compile every model, test, snapshot and analysis for the AWS targets with no AWS account and "
        "no network, parse each compiled node with sqlglot and sqlfluff in its engine's dialect, then (when a local "
        "build exists) run each engine's SQL for every mart and its upstream models on the local lake and compare "
        "with the local build. Exit 1 on any failure. See docs/verification.md.",
    )
    p.add_argument(
        "--target",
        action="append",
        choices=sorted(AWS_TARGETS),
        default=None,
        help="an AWS target to verify (repeatable; default: athena and redshift)",
    )
    p.add_argument("--no-conformance", action="store_true", help="compile and parse only")
    p.add_argument(
        "--artifacts", type=Path, default=None, help="where the compiled projects go (default: build/verify)"
    )


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


def run(ns: argparse.Namespace, project: Project) -> int:
    """The CLI entry: verify, print the report, exit 0 only when everything holds."""
    artifacts = (ns.artifacts or project.root / "build" / "verify").resolve()
    result = verify(project, ns.target or DEFAULT_TARGETS, artifacts_dir=artifacts, conformance=not ns.no_conformance)
    print(report(result))
    return 0 if result.ok else 1
