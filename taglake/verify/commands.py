"""`taglake verify`: compile for Athena and Redshift offline, parse in each dialect, check conformance."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from taglake.core import targets
from taglake.core.cli_args import Subparsers
from taglake.core.project import Project


def register(sub: Subparsers) -> None:
    _add_verify(sub)


def _add_verify(sub: Subparsers) -> None:
    p = sub.add_parser(
        "verify",
        help="compile every node for Athena and Redshift offline, parse it in each dialect, check conformance",
        description="Compile every model, test, snapshot and analysis for the AWS targets with no AWS account and "
        "no network, parse each compiled node with sqlglot and sqlfluff in its engine's dialect, then (when a local "
        "build exists) run each engine's SQL for every mart and its upstream models on the local lake and compare "
        "with the local build. Progress goes to stderr, one line per step and target; the report to stdout. Exit 1 "
        "on any failure. See docs/verification.md.",
    )
    p.add_argument(
        "--target",
        action="append",
        choices=sorted(targets.aws_targets()),
        default=None,
        help="an AWS target to verify (repeatable; default: athena and redshift)",
    )
    p.add_argument("--no-conformance", action="store_true", help="compile and parse only")
    p.add_argument(
        "--no-cache",
        action="store_true",
        help="parse every compiled node again, neither reading nor writing the parse cache "
        "(default: $XDG_CACHE_HOME/taglake/verify-parse, else ~/.cache/taglake/verify-parse)",
    )
    p.add_argument(
        "--artifacts", type=Path, default=None, help="where the compiled projects go (default: build/verify)"
    )
    p.set_defaults(func=cmd_verify)


def cmd_verify(ns: argparse.Namespace, project: Project, target: str | None) -> int:
    """Verify, print the report, exit 0 only when everything holds."""
    from taglake.verify import suite as verify
    from taglake.verify.parse_cache import ParseCache
    from taglake.verify.progress import Progress

    artifacts = (ns.artifacts or project.root / "build" / "verify").resolve()
    targets = ns.target or verify.DEFAULT_TARGETS
    result = verify.verify(
        project,
        targets,
        artifacts_dir=artifacts,
        conformance=not ns.no_conformance,
        cache=None if ns.no_cache else ParseCache.default(),
        progress=Progress(sys.stderr),
    )
    print(verify.report(result))
    return 0 if result.ok else 1
