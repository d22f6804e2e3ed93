"""The system identity: the explicit act that lets a command run on a system target (`*_system`).

A target's name is not an identity: anyone can type `--target local_system`. The system targets therefore need
`TAGLAKE_SYSTEM_IDENTITY`, which profiles.yml requires (no default, so plain dbt fails without it) and the
`taglake` command checks before anything runs on a system target:

- locally (`local_system`), it names a system credential file made by `taglake system-identity init`: a regular
  file (not a link), owned by the user running the command, readable and writable by that user only (0600), in
  this module's format, naming that user. The file is the act; file permissions on the lake, the key and the
  system build are what keep other accounts out (docs/privacy.md).
- on AWS (`athena_system`, `redshift_system`), it is the system IAM role's ARN, and the AWS session running the
  command must be that role's (STS GetCallerIdentity says `assumed-role/<that role>/…`). The real control is IAM
  and Lake Formation: only that role can use the system workgroup and read the vault (docs/deployment.md).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from taglake.core import targets
from taglake.core.errors import Refused
from taglake.core.targets import is_system_target

ENV = "TAGLAKE_SYSTEM_IDENTITY"
KIND = "taglake-system-identity"
FORMAT_VERSION = 1
DEFAULT_FILE = Path(".secrets") / "system_identity.json"
MAX_BYTES = 4096

_ROLE_ARN = re.compile(r"arn:(aws[a-z-]*):iam::(\d{12}):role/(?:[\w+=,.@-]+/)*([\w+=,.@-]{1,64})")
_ASSUMED_ROLE = re.compile(r"arn:(aws[a-z-]*):sts::(\d{12}):assumed-role/([\w+=,.@-]{1,64})/[\w+=,.@-]+")


class SystemIdentityRefused(Refused):
    """A system target was asked for without a valid system identity."""


@dataclass(frozen=True)
class SystemIdentity:
    """Who acts as the system account: a local credential file's holder, or an AWS role session."""

    principal: str
    identity_id: str


def _login_name() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid-{os.getuid()}"


def create_identity_file(path: Path) -> SystemIdentity:
    """Make a new system credential file at `path`, owner-only (0600), in a folder only the owner can enter.
    Refuses to replace one that exists: a new identity is a deliberate act, and so is deleting the old one."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    identity = SystemIdentity(principal=_login_name(), identity_id=secrets.token_hex(16))
    body = {
        "kind": KIND,
        "version": FORMAT_VERSION,
        "principal": identity.principal,
        "uid": os.getuid(),
        "identity_id": identity.identity_id,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except FileExistsError:
        raise SystemIdentityRefused(
            f"{path} exists already: a system identity is made once; delete it first to make a new one"
        ) from None
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(body, fh, indent=2)
        fh.write("\n")
    return identity


def _refuse(reason: str, needs: str = "system targets need") -> SystemIdentityRefused:
    return SystemIdentityRefused(
        f"{needs} the system identity: {reason} (docs/privacy.md, `taglake system-identity init`)"
    )


def check_identity_file(value: str | None, *, needs: str = "system targets need") -> SystemIdentity:
    """The identity in the file `value` names, after checking it exists, is a regular file owned by this user with
    mode 0600 (no group or other bits), and holds this format naming this user. `needs` starts the refusal: who
    asked for the identity."""
    if not value:
        raise _refuse(f"{ENV} is not set", needs)
    path = Path(value)
    try:
        info = path.lstat()
    except OSError:
        raise _refuse(f"the file {ENV} names does not exist or cannot be read", needs) from None
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISREG(info.st_mode):
        raise _refuse(f"the file {ENV} names is not a regular file (links are refused)", needs)
    if info.st_uid != os.getuid():
        raise _refuse(f"the file {ENV} names is not owned by the user running this command", needs)
    if info.st_mode & 0o077:
        raise _refuse(f"the file {ENV} names is readable or writable by others: chmod 600 it", needs)
    if info.st_size > MAX_BYTES:
        raise _refuse(f"the file {ENV} names is not a system identity file", needs)
    try:
        body: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        raise _refuse(f"the file {ENV} names is not a system identity file", needs) from None
    if (
        not isinstance(body, dict)
        or body.get("kind") != KIND
        or body.get("version") != FORMAT_VERSION
        or not isinstance(body.get("identity_id"), str)
        or not re.fullmatch(r"[0-9a-f]{32}", body["identity_id"])
        or not isinstance(body.get("principal"), str)
    ):
        raise _refuse(f"the file {ENV} names is not a system identity file", needs)
    if body.get("uid") != os.getuid():
        raise _refuse(f"the file {ENV} names was made for another user", needs)
    return SystemIdentity(principal=body["principal"], identity_id=body["identity_id"])


def check_aws_identity(value: str | None, caller_arn: Callable[[], str]) -> SystemIdentity:
    """`value` is the system role's ARN and the current AWS session (`caller_arn()`) is that role's."""
    if not value:
        raise _refuse(f"{ENV} is not set (on AWS: the system role's ARN)")
    role = _ROLE_ARN.fullmatch(value)
    if role is None:
        raise _refuse(f"on AWS, {ENV} is the system role's ARN (arn:aws:iam::<account>:role/<name>)")
    session = _ASSUMED_ROLE.fullmatch(caller_arn())
    if session is None or session.groups() != role.groups():
        raise _refuse("the AWS session running this command is not the system role's")
    return SystemIdentity(principal=value, identity_id=session.group(0).rsplit("/", 1)[1])


def require_local_system_act(act: str, *, environ: Mapping[str, str] | None = None) -> SystemIdentity:
    """The local system identity for an act of the system account that runs on no dbt target (`act`, e.g. the key
    rotation): the same check as `local_system`'s (check_identity_file), refused in one line naming the act."""
    env = os.environ if environ is None else environ
    return check_identity_file(env.get(ENV), needs=f"{act} needs")


def _sts_caller_arn() -> str:
    import boto3

    sts = boto3.session.Session().client("sts", region_name=os.environ.get("TAGLAKE_AWS_REGION"))
    return str(sts.get_caller_identity()["Arn"])


def require_system_identity(
    target: str, *, environ: Mapping[str, str] | None = None, caller_arn: Callable[[], str] | None = None
) -> SystemIdentity | None:
    """Nothing for a non-system target; for a system target, the checked identity, or SystemIdentityRefused."""
    if not is_system_target(target):
        return None
    env = os.environ if environ is None else environ
    value = env.get(ENV)
    declared = targets.targets()
    if target in declared and declared[target].engine == "duckdb":
        return check_identity_file(value)
    if target in declared:
        return check_aws_identity(value, caller_arn or _sts_caller_arn)
    raise _refuse(f"unknown system target: {', '.join(t for t in declared if is_system_target(t))}")
