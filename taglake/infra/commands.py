"""The infrastructure commands: `taglake infra render`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from taglake.core.cli_args import Subparsers
from taglake.core.project import Project
from taglake.core.text_tables import format_table


def register(sub: Subparsers) -> None:
    p = sub.add_parser(
        "infra",
        help="the AWS estate as CloudFormation: render the generated stacks in infra/stacks/",
        description="The CloudFormation stacks under infra/stacks/ (docs/deployment.md § The AWS estate). Five are "
        "generated from the project's declarations — roles.yaml (IAM roles and Athena workgroups, from vars.access), "
        "catalog.yaml (Glue databases and tables, from the source YAML), lake-formation.yaml (LF-tags and grants, "
        "the plan of `taglake lake-formation plan`), retrieval.yaml (the tag retrieval API, its Lambda and "
        "DynamoDB cache, from taglake.serve's routes and names) "
        "and monitoring.yaml (alarms and a dashboard over `taglake "
        "metrics put`, and the budget); the others are written by hand. `make infra-check` lints them all.",
    )
    infra_sub = p.add_subparsers(dest="infra_command", required=True, metavar="COMMAND")
    r = infra_sub.add_parser(
        "render",
        help="write the generated stacks to infra/stacks/ (--check: only say whether they are current)",
        description="Write roles.yaml, catalog.yaml, lake-formation.yaml, retrieval.yaml and monitoring.yaml under "
        "infra/stacks/ "
        "from the declarations. With --check, write nothing and exit 1 when a checked-in file differs (CI, "
        "`make infra-check`).",
    )
    r.add_argument("--check", action="store_true", help="write nothing; exit 1 when a file is out of date")
    r.add_argument("--out", type=Path, default=None, help="another folder to write to (default: infra/stacks)")
    r.set_defaults(func=cmd_render)
    c = infra_sub.add_parser(
        "check",
        help="lint infra/: generated stacks current, cfn-lint and checkov clean, every suppression explained",
        description="What `make infra-check` runs: `infra render --check`, cfn-lint over infra/stacks/*.yaml, checkov "
        "(from its own venv: `make venv-checkov` prints the folder) over infra/, and the suppressions: each checkov "
        "skip or cfn-lint ignore must carry a written reason and be needed. Exit 1 with one line per finding.",
    )
    c.add_argument("--checkov-venv", type=Path, required=True, help="the folder `make venv-checkov` prints")
    c.set_defaults(func=cmd_check)


def cmd_render(ns: argparse.Namespace, project: Project, target: str) -> int:
    from taglake.infra import render

    if ns.check:
        render.check(project.root)
        print("infra/stacks: the generated stacks are current")
        return 0
    rows = render.write_all(project.root, ns.out)
    print(format_table(["file", "result"], rows))
    return 0


def cmd_check(ns: argparse.Namespace, project: Project, target: str) -> int:
    from taglake.infra import lint, render

    render.check(project.root)
    problems = lint.findings(project.root / "infra", ns.checkov_venv)
    for line in problems:
        print(line)
    if problems:
        print(f"infra check: {len(problems)} finding(s)", file=sys.stderr)
        return 1
    print("infra check: generated stacks current; cfn-lint and checkov clean; every suppression explained")
    return 0
