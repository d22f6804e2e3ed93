"""What every concern's command-line registration shares: argument types, the `--` separator, the AWS options.

Each package's `commands.py` has `register(subparsers)`, which adds its subcommands with
`set_defaults(func=handler)`; taglake.cli calls `ns.func(ns, project, target)`. A command that runs on a dbt
target also sets `target_of` (the target it will run on, as dbt resolves it) and, when it passes arguments to dbt,
`dbt_args_of` (the dbt arguments the passthrough policy checks); the CLI checks both before the handler runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

# What register() receives: the `taglake` parser's subparsers.
Subparsers = argparse._SubParsersAction


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a whole number, 0 or more") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be a whole number, 0 or more")
    return value


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a number, 0 or more") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError("must be a number, 0 or more")
    return value


def strip_separator(args: Sequence[str]) -> list[str]:
    return list(args[1:]) if args and args[0] == "--" else list(args)


def add_aws_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--region", default=None, help="AWS region (default: TAGLAKE_AWS_REGION, else the AWS chain's)")
    p.add_argument("--endpoint-url", default=None, help="another endpoint, e.g. moto_server on 127.0.0.1 for tests")
