"""What `taglake dbt …` (and the dbt arguments `taglake build`/`run-daily` pass on) may do outside the system
targets. dbt runs with the pipeline's full access; a passthrough must not turn that into a way to print data or run
arbitrary Jinja. Refused on every non-system target, each with one line:

- `show` (any form): it prints rows of any node's SQL run with full access; `taglake query` is how data is read.
- `run-operation`, except the project's own operations listed in ALLOWED_OPERATIONS, without `--args`: a macro,
  including dbt's own `run_query`, runs arbitrary SQL and Jinja and prints what it likes.
- `--inline`, `--inline-direct`, `-i` (compile or show of ad hoc Jinja-SQL): arbitrary Jinja at compile time.
- `--vars` naming a privacy setting (pii, privacy, guard, mask, token, key, vault, secret, identity, treat…), or a
  value that is not a plain scalar (a var's value lands in SQL text: quotes, brackets and semicolons would be code).
- `--state`, `--defer`, `--favor-state`, `--defer-state`: another manifest's relation names are pasted into the
  compiled SQL, so a crafted manifest could put any relation or file read behind a mart.
- `clone` (it copies relations named by another manifest) and `retry` (it replays the last invocation's arguments,
  unchecked).
- `docs serve` on a host other than the loopback (the docs site is for this machine only).
- `--profiles-dir`, `--project-dir`: the passthrough runs this checkout's project with its profiles.yml, whose
  target names the rest of this policy trusts.

Everything else passes (build, run, test, seed, snapshot, compile of project nodes, ls, parse, deps, debug, docs
generate, source freshness, clean). On a system target (which needs the system identity) nothing is refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from taglake.core.errors import Refused
from taglake.core.targets import is_system_target

ALLOWED_OPERATIONS = frozenset({"create_spectrum_schemas"})
_REFUSED_COMMANDS = {
    "show": "`dbt show` prints rows run with the pipeline's access: read data with `taglake query`",
    "clone": "`dbt clone` copies relations another manifest names",
    "retry": "`dbt retry` replays the last invocation's arguments unchecked: run the command again instead",
}
_INLINE_FLAGS = ("--inline", "--inline-direct", "-i")
_STATE_FLAGS = ("--state", "--defer", "--no-defer", "--favor-state", "--defer-state")
_PROJECT_FLAGS = ("--profiles-dir", "--project-dir")
_PRIVACY_VAR = re.compile(r"pii|privacy|guard|mask|token|key|vault|secret|identity|treat|canary|redact", re.IGNORECASE)
# A var value that stays data when pasted into SQL: codes, numbers, dates and times.
_SAFE_VAR_VALUE = re.compile(r"[A-Za-z0-9 _.:+\-/]{0,100}")
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class DbtRefused(Refused):
    """The dbt command is not allowed on this target."""


def _flag_values(args: Sequence[str], names: Sequence[str]) -> list[str]:
    """Every value given to one of the long or short options `names` (`--x v`, `--x=v`, `-t v`, `-tv`)."""
    values = []
    for i, arg in enumerate(args):
        for name in names:
            if arg == name and i + 1 < len(args):
                values.append(args[i + 1])
            elif name.startswith("--") and arg.startswith(name + "="):
                values.append(arg[len(name) + 1 :])
            elif not name.startswith("--") and arg.startswith(name) and len(arg) > len(name):
                values.append(arg[len(name) :])
    return values


def _has_flag(args: Sequence[str], names: Sequence[str]) -> bool:
    return any(arg == name or (name.startswith("--") and arg.startswith(name + "=")) for arg in args for name in names)


def effective_target(args: Sequence[str], environ: Mapping[str, str], default: str | None = None) -> str:
    """The target dbt will use: the last --target/-t, else DBT_TARGET, else `default`, else TAGLAKE_TARGET (the
    profile's default), else local."""
    given = _flag_values(args, ("--target", "-t"))
    if given:
        return given[-1]
    return environ.get("DBT_TARGET") or default or environ.get("TAGLAKE_TARGET") or "local"


def parse_vars(text: str, *, check_policy: bool = True) -> dict[str, Any]:
    """A `--vars` value (YAML or JSON, as dbt's `--vars`) as a mapping; DbtRefused (one line naming --vars, never
    the value) when it does not parse as a mapping or, with `check_policy`, sets a privacy setting or holds a value
    that is not plain."""
    try:
        parsed: Any = yaml.safe_load(text)
    except yaml.YAMLError:
        raise DbtRefused("--vars does not parse as a YAML mapping") from None
    if parsed is None:
        return {}
    if not isinstance(parsed, dict):
        raise DbtRefused("--vars must be a YAML mapping, e.g. '{tag_code: LC_NEW}'")
    if not check_policy:
        return parsed
    for name, value in parsed.items():
        if not isinstance(name, str) or _PRIVACY_VAR.search(name):
            raise DbtRefused(
                "--vars may not set a privacy setting (treatments, guard, masking, keys, vault) outside the system "
                "targets"
            )
        values = value if isinstance(value, list) else [value]
        for item in values:
            if not is_plain_var_value(item):
                raise DbtRefused(
                    "--vars values must be plain codes, numbers or dates (letters, digits, space, _ . : + - /): "
                    "a var's value is pasted into SQL"
                )
    return parsed


def is_plain_var_value(value: Any) -> bool:
    """A var value that stays data when pasted into SQL: a boolean, number, null, or a plain code or date."""
    if isinstance(value, bool | int | float) or value is None:
        return True
    return isinstance(value, str) and _SAFE_VAR_VALUE.fullmatch(value) is not None


def is_privacy_var(name: str) -> bool:
    """A var name that names a privacy setting (refused in --vars outside the system targets)."""
    return _PRIVACY_VAR.search(name) is not None


def check_dbt_args(args: Sequence[str], target: str, environ: Mapping[str, str] | None = None) -> None:
    """Refuse (DbtRefused, one line) what the policy above forbids on a non-system target."""
    if is_system_target(target):
        return
    environ = environ or {}
    words = set(args)
    for command, why in _REFUSED_COMMANDS.items():
        if command in words:
            raise DbtRefused(f"{why}; not allowed on target {target}")
    if "run-operation" in words:
        index = list(args).index("run-operation")
        macro = args[index + 1] if index + 1 < len(args) else ""
        if macro not in ALLOWED_OPERATIONS or _has_flag(args, ("--args",)):
            raise DbtRefused(
                "`dbt run-operation` runs arbitrary macros (dbt's run_query too): only "
                f"{', '.join(sorted(ALLOWED_OPERATIONS))} without --args, outside the system targets"
            )
    if _has_flag(args, _INLINE_FLAGS) or any(a.startswith("-i") and not a.startswith("--") for a in args):
        raise DbtRefused("inline SQL (--inline) runs arbitrary Jinja: read data with `taglake query`")
    if _has_flag(args, _STATE_FLAGS):
        raise DbtRefused("--state and --defer paste another manifest's relation names into the SQL: not allowed")
    if _has_flag(args, _PROJECT_FLAGS):
        raise DbtRefused(
            "taglake dbt runs this checkout's project and profiles.yml: --profiles-dir and "
            "--project-dir are not allowed"
        )
    for value in _flag_values(args, ("--vars",)):
        parse_vars(value)
    if "docs" in words and "serve" in words:
        hosts = _flag_values(args, ("--host",)) or [environ.get("DBT_HOST") or "127.0.0.1"]  # dbt reads DBT_HOST
        if any(host not in _LOOPBACK for host in hosts):
            raise DbtRefused("dbt docs serve only on this machine (--host 127.0.0.1)")
