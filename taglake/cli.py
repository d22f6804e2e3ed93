"""The `taglake` command: generate the synthetic lake, build it with dbt, and look at the result.

Thin: each concern's package registers its own subcommands (`<package>/commands.py`, `register(subparsers)`, each
with `set_defaults(func=…)`), and main() resolves and checks the dbt target, calls the command's function, and
turns every error into one line (taglake.core.errors). Every subcommand is a thin layer over a function the tests
call directly.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence

from taglake import __version__
from taglake.aws import commands as aws_commands
from taglake.bench import commands as bench_commands
from taglake.core.errors import DEBUG_ENV, Refused, report
from taglake.core.project import Project
from taglake.infra import commands as infra_commands
from taglake.ingest import commands as ingest_commands
from taglake.lake import commands as lake_commands
from taglake.ml import commands as ml_commands
from taglake.ops import commands as ops_commands
from taglake.privacy import commands as privacy_commands
from taglake.replicate import commands as replicate_commands
from taglake.serve import commands as serve_commands
from taglake.verify import commands as verify_commands

# Each concern's commands, in the order `taglake --help` lists them.
CONCERNS = (
    lake_commands,
    ops_commands,
    privacy_commands,
    verify_commands,
    aws_commands,
    ingest_commands,
    serve_commands,
    infra_commands,
    ml_commands,
    replicate_commands,
    bench_commands,
)

DESCRIPTION = """\
taglake builds a bank's customer-segment tag lake (客群標籤) with dbt: raw data in S3 (Glue catalog) becomes
staging, intermediate and mart tables on Amazon Athena or Redshift Spectrum in production, and on DuckDB on any
laptop or CI machine, over a synthetic lake laid out exactly as S3 holds it.

Start with `taglake demo` (what `make demo` runs): it generates the small lake, builds it on DuckDB and prints a
summary, one sample query and a leak scan. Personal data is masked in the first layer: see docs/privacy.md."""


EPILOG = """\
environment:
  TAGLAKE_TARGET        dbt target (default: local); athena and redshift read their settings from
                        TAGLAKE_* variables, see docs/deployment.md
  TAGLAKE_LAKE_DIR      the lake the local target reads (default: lake/ in the checkout)
  TAGLAKE_DUCKDB_PATH   the local DuckDB database (default: build/taglake.duckdb)
  TAGLAKE_KEY_FILE      the local masking key, outside git (default: .secrets/masking_keys.csv)
  TAGLAKE_SYSTEM_IDENTITY  the system identity the *_system targets need (no default): locally the file
                        `taglake system-identity init` made, on AWS the system role's ARN (docs/privacy.md)
  TAGLAKE_API_KEY       the key `taglake api serve` expects (default: .secrets/ingest_api_key, made on first use)
  TAGLAKE_DEBUG         1: after an error's one line, where it was raised (files and lines; never values)

examples:
  taglake generate --scale medium --seed 7
  taglake query card_spend_by_category --csv spend.csv
  taglake upload --bucket bank-lake-raw && taglake catalog --bucket bank-lake-raw
  taglake lake-formation plan --athena-schema taglake
  taglake scan-pii
  taglake check-lake
  taglake build
  taglake generate --append-day && taglake run-daily
  taglake api serve    (then: curl -H "x-api-key: …" -H "x-request-id: $(uuidgen)" -d @batch.json
                        http://127.0.0.1:8787/ingest/digital/app_events)
  taglake dbt source freshness
  taglake dbt build --select staging"""


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line on stderr that names the argument and never echoes its value
    (argparse's own message quotes it: `invalid int value: 'A123456789'`)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"{self.prog}: {_safe_usage_error(message)} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def _safe_usage_error(message: str) -> str:
    first = message.splitlines()[0] if message else "bad arguments"
    for prefix in ("unrecognized arguments", "ambiguous option"):
        if first.startswith(prefix):
            return prefix
    # "argument --limit: invalid int value: 'x'" → "argument --limit: invalid int value"; choices keep our list.
    first = re.sub(r": '[^']*'", "", first)
    return re.sub(r"invalid choice(: \S+)?", "invalid choice", first)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="taglake",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"taglake {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for concern in CONCERNS:
        concern.register(sub)
    return parser


class TargetRefused(Refused):
    """The target is not one of profiles.yml's outputs."""


def project_targets(project: Project) -> list[str]:
    """The outputs of the checkout's profiles.yml."""
    from taglake.core import targets

    return list(targets.targets(project.root))


def _check_target(ns: argparse.Namespace, project: Project, target: str | None) -> None:
    """Before anything runs: the target is one of profiles.yml's, a system target needs the system identity, and
    the dbt arguments a command passes on (its `dbt_args_of`) pass the passthrough policy outside the system
    targets."""
    from taglake.ops.dbt_guard import check_dbt_args
    from taglake.privacy.system_identity import require_system_identity

    if target is None:
        return
    if target not in project_targets(project):
        raise TargetRefused(
            f"unknown target: use one of {', '.join(project_targets(project))} (profiles.yml, docs/deployment.md)"
        )
    require_system_identity(target)
    dbt_args_of = getattr(ns, "dbt_args_of", None)
    if dbt_args_of is not None:
        check_dbt_args(dbt_args_of(ns), target, os.environ)


def _target_of(ns: argparse.Namespace) -> str | None:
    """The dbt target the command runs on, as dbt itself will resolve it (None for commands that run on none)."""
    target_of = getattr(ns, "target_of", None)
    return None if target_of is None else target_of(ns)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. Every error ends here: one line on stderr (taglake.core.errors: the project's own message,
    or for an engine's or a library's error its class and what to check, never its text), a non-zero exit code
    (2: refused or bad arguments, 1: failed) and no traceback (TAGLAKE_DEBUG=1 adds where, never values)."""
    command = None
    try:
        ns = build_parser().parse_args(argv)
        command = ns.command
        project = Project.locate()
        target = _target_of(ns)
        _check_target(ns, project, target)
        return ns.func(ns, project, target)
    except SystemExit as exc:  # argparse: --help, --version, or a bad argument already reported in one line
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    except KeyboardInterrupt:
        print("taglake: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        from taglake.lake.preflight import LakeCheckError

        if isinstance(exc, LakeCheckError):  # the pre-flight's problems: one line each, naming the file
            lake_commands.print_lake_problems(exc)
            return 1
        argv = list(sys.argv[1:] if argv is None else argv)
        return report(exc, command, argv=argv, debug=os.environ.get(DEBUG_ENV, "") not in ("", "0"))


if __name__ == "__main__":
    sys.exit(main())
