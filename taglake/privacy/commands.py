"""The privacy commands: `taglake keys` and `system-identity` (`scan-pii` is registered from taglake.ops.leak_scan:
its --target scan connects to the engines with taglake query's connection code)."""

from __future__ import annotations

import argparse
from pathlib import Path

from taglake.core.cli_args import Subparsers
from taglake.core.project import Project


def register(sub: Subparsers) -> None:
    _add_keys(sub)
    _add_system_identity(sub)


KEYS_DESCRIPTION = """\
The local target's masking key: a one-row file outside git (TAGLAKE_KEY_FILE, default .secrets/masking_keys.csv;
key_version,k_inner,k_outer, two 256-bit random parts), readable by its owner only. dbt joins it at masking time,
so it is never in SQL text, logs or artifacts, and no taglake command ever prints it.

  init    make the first key (version 1), the only way a key comes to exist: builds refuse to run without
          one rather than make one (`make demo` and `taglake demo` run `init --if-missing` and say so). init
          never replaces a key (--if-missing: check and keep an existing one).
  status  the key's version and fingerprint, checked (never the key itself), and the version each local build
          records in its key_state table.
  rotate  the system account's rotation that keeps history (--as-system, and the system identity:
          TAGLAKE_SYSTEM_IDENTITY as for local_system, else refused): a new key (version + 1); every token
          in every table of the local builds (snapshots, incremental facts, base models, history marts) is
          re-keyed in one DuckDB transaction per build, through a map from each raw clear value's old token to
          its new one; key_state records the new key; only then does the new key replace the old key file
          (atomically). A failure leaves the old key and the old tables; run it again to finish an interrupted
          rotation.

Every build checks the key first (taglake before dbt, and dbt's on-run-start hook): a missing, truncated,
malformed or group/world-readable key file, or a key other than the one the tables were built with, stops it with
one line naming the file and the fix. Athena and Redshift: docs/privacy.md, section 3."""


def _add_keys(sub: Subparsers) -> None:
    p = sub.add_parser(
        "keys",
        help="make, check or rotate the local masking key (never prints it)",
        description=KEYS_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    init = actions.add_parser(
        "init",
        help="make the first key (version 1); never replaces one",
        description="Make the local masking key (version 1) with strong randomness, owner-only (0600). Refuses "
        "when a key file is already there: a new key would orphan every token built with the old one.",
    )
    init.add_argument(
        "--if-missing",
        action="store_true",
        help="when a key is already there, check it and keep it (what `make demo` runs)",
    )
    status = actions.add_parser(
        "status",
        help="the key's version and fingerprint, and the version each local build records",
        description="Check the key file (never printing it) and show its version and keyed fingerprint, and the "
        "key version each local build records in its key_state table.",
    )
    status.add_argument(
        "--strict",
        action="store_true",
        help="also fail (one line, exit 2) when a local build records another key than the key file's: what the "
        "MWAA DAG's check_key task runs, so a key that is not the build's is a key_problem alert",
    )
    rotate = actions.add_parser(
        "rotate",
        help="the system account's rotation: new key, every persisted token re-keyed, history kept",
        description="Make a new key (version + 1) and re-key every token of every table of the local builds "
        "(the default build and build/taglake_system.duckdb, those that exist) from the raw lake's clear "
        "values, in one transaction per build; then replace the key file. See `taglake keys --help`.",
    )
    rotate.add_argument(
        "--as-system",
        action="store_true",
        help="required: the explicit act of the system account (the rotation reads the raw lake's clear values); "
        "TAGLAKE_SYSTEM_IDENTITY must name the system identity too (taglake system-identity init)",
    )
    rotate.add_argument(
        "--db",
        type=Path,
        action="append",
        default=None,
        help="a local build to re-key (repeatable; default: every local build that exists)",
    )
    p.set_defaults(func=cmd_keys)


def _add_system_identity(sub: Subparsers) -> None:
    p = sub.add_parser(
        "system-identity",
        help="make or check the local system identity the *_system targets need",
        description="The system targets (local_system, athena_system, redshift_system) run only for the system "
        "identity, never for a target name alone. Locally: `init` makes a system credential file, owner-only "
        "(0600), and the system account sets TAGLAKE_SYSTEM_IDENTITY to its path; every command on a system target "
        "checks it (exists, owner, mode, format). On AWS, TAGLAKE_SYSTEM_IDENTITY is the system role's ARN and the "
        "session must be that role's. See docs/privacy.md.",
    )
    p.add_argument(
        "action", choices=["init", "check"], help="init: make the file; check: check TAGLAKE_SYSTEM_IDENTITY"
    )
    p.add_argument("--file", type=Path, default=None, help="init: where (default: .secrets/system_identity.json)")
    p.add_argument(
        "--target", default="local_system", help="check: the system target to check for (default: local_system)"
    )
    p.set_defaults(func=cmd_system_identity)


def cmd_keys(ns: argparse.Namespace, project: Project, target: str | None) -> int:
    from taglake.privacy.key_state import check_build_key, recorded_key_state
    from taglake.privacy.keys import check_key_file, init_key
    from taglake.privacy.rotation import default_databases, rotate

    if ns.action == "init":
        key, made = init_key(project.key_file, if_missing=ns.if_missing)
        verb = "made" if made else "kept the existing"
        print(f"{verb} masking key version {key.key_version} in {project.key_file} (owner-only; never printed)")
        return 0
    if ns.action == "rotate":
        result = rotate(project, as_system=ns.as_system, databases=ns.db)
        print(
            f"rotated the masking key from version {result.old_version} to {result.new_version} in "
            f"{project.key_file}; re-keyed {sum(result.rewritten.values()):,} token values in "
            f"{len(result.rewritten):,} columns of {len(result.databases)} local build(s)"
        )
        return 0
    key = check_key_file(project.key_file)
    print(f"masking key version {key.key_version} in {project.key_file}, fingerprint {key.fingerprint()[:16]}")
    for db in default_databases(project):
        state = recorded_key_state(db)
        recorded = "no key recorded" if state is None else f"built with key version {state.key_version}"
        same = state is not None and state.key_fingerprint == key.fingerprint()
        print(f"  {db}: {recorded}{' (this key)' if same else ''}")
        if ns.strict:
            check_build_key(db, key, key_file=project.key_file)
    return 0


def cmd_system_identity(ns: argparse.Namespace, project: Project, target: str | None) -> int:
    from taglake.privacy import system_identity

    if ns.action == "init":
        path = (ns.file or project.root / system_identity.DEFAULT_FILE).resolve()
        made = system_identity.create_identity_file(path)
        print(f"system identity {made.identity_id} for {made.principal} written to {path} (owner-only, 0600)")
        print(f"to act as the system account: export {system_identity.ENV}={path}")
        return 0
    checked = system_identity.require_system_identity(ns.target)
    if checked is None:
        print(f"{ns.target} is not a system target: it needs no system identity")
    else:
        print(f"system identity {checked.identity_id} of {checked.principal}: valid for {ns.target}")
    return 0
