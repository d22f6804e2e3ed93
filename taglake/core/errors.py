"""The project's error types and the one way the command line reports an error: one line, no traceback, no value.

Messages of `TaglakeError` and `Refused` are written by the project and name the file, argument or relation and
the fix, never a data value. Anything else — an engine's error (DuckDB's parser, binder and catalog errors quote
the SQL, and conversion errors quote values), a library's parse error (YAML, JSON, CSV quote the text), an AWS
error — is reported by its class and what to check, never by its text.
"""

from __future__ import annotations

import linecache
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

DEBUG_ENV = "TAGLAKE_DEBUG"
_PACKAGE = Path(__file__).resolve().parents[1]
_QUOTED = re.compile(r"'[^'\n]*'|\"[^\"\n]*\"")
_MAX = 400
_VALUE_LIKE = re.compile(r"[0-9/\\.@]")
# `raise Name(…` — a message written here; not `raise`, `raise exc` (a re-raise of someone else's error).
_AUTHORED_RAISE = re.compile(r"raise\s+[A-Za-z_][\w.]*\(")
# DbtError's own message quotes the dbt command line; dbt printed what failed just before.
_DBT_FAILED = re.compile(r"`dbt .*` failed with exit code (\d+)")


class TaglakeError(Exception):
    """A failure the project describes itself: the message is safe to print."""

    exit_code = 1


class Refused(TaglakeError):
    """The request is not allowed (a policy said no): the message is safe to print; exit code 2."""

    exit_code = 2


# What to check, by the class name of an error whose text is withheld.
_HINTS = {
    "ParserException": "the SQL does not parse: check its syntax",
    "CatalogException": "a table, column or function it names does not exist here "
    "(taglake query reaches only the consumption relations: *_marts, *_reference, *_snapshots)",
    "BinderException": "a column or type in the SQL does not fit: check the column names and types",
    "PermissionException": "the SQL reached for a file, URL or extension, which taglake query does not allow",
    "InvalidInputException": "the engine refused the statement: one read-only query on the consumption relations",
    "ConversionException": "a value did not convert: check the casts and literals in the SQL",
    "OutOfRangeException": "a value is out of range: check the casts and arithmetic in the SQL",
    "IOException": "the database could not be opened: is a build running, or is the path right?",
    "ParseError": "the SQL does not parse: check its syntax",
    "TokenError": "the SQL does not parse: check its quotes and brackets",
    "YAMLError": "a YAML file or --vars value does not parse: check its syntax",
    "JSONDecodeError": "a JSON file does not parse",
    "UnicodeDecodeError": "a file is not UTF-8 text",
    "FileNotFoundError": "a file or folder named in the arguments (or its default) does not exist",
    "IsADirectoryError": "a path named in the arguments is a folder where a file is needed",
    "NotADirectoryError": "a path named in the arguments is a file where a folder is needed",
    "PermissionError": "a file or folder could not be read or written: check its permissions",
    "NoCredentialsError": "no AWS credentials: use the role the target needs (docs/deployment.md)",
    "NoRegionError": "no AWS region: set TAGLAKE_AWS_REGION",
    "EndpointConnectionError": "AWS could not be reached: check the network and --endpoint-url",
}


def hint_for(exc: BaseException) -> str:
    """What to check for an error whose own text is not shown, by its class."""
    hint = next((_HINTS[k.__name__] for k in type(exc).__mro__ if k.__name__ in _HINTS), None)
    return hint or "an unexpected error; set TAGLAKE_DEBUG=1 to see where it happened"


def _innermost(exc: BaseException) -> tuple[str, int, str] | None:
    tb = exc.__traceback__
    if tb is None:
        return None
    while tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame.f_code.co_filename, tb.tb_lineno, tb.tb_frame.f_code.co_name


def _raised_by_project(exc: BaseException) -> bool:
    """The exception was made by an explicit `raise X(...)` in this package (its author wrote the message), not
    by a library, a builtin (`int('…')` quotes its input) or a bare re-raise."""
    where = _innermost(exc)
    if where is None:
        return False
    filename, lineno, _ = where
    try:
        Path(filename).resolve().relative_to(_PACKAGE)
    except ValueError:
        return False
    return _AUTHORED_RAISE.match(linecache.getline(filename, lineno).strip()) is not None


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= _MAX else line[: _MAX - 1] + "…"


def _aws_code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if isinstance(code, str) and re.fullmatch(r"[A-Za-z0-9_.]{1,80}", code):
            return code
    return None


def _redact_arguments(line: str, argv: Sequence[str]) -> str:
    """Replace what the user typed that could be a value (a path, an ID, an address: 6+ characters with a digit,
    a slash, a dot or an @) by <argument>, wherever a message repeats it."""
    values = {a.split("=", 1)[1] if a.startswith("--") and "=" in a else a for a in argv}
    for value in sorted((v for v in values if len(v) >= 6 and _VALUE_LIKE.search(v)), key=len, reverse=True):
        line = re.sub(re.escape(value), "<argument>", line, flags=re.IGNORECASE)
    return line


def describe(exc: BaseException, command: str | None = None, argv: Sequence[str] = ()) -> str:
    """One line for `exc`, without any value it may carry (nor any value-like argument of `argv`)."""
    return _redact_arguments(_describe(exc, command), argv)


def _describe(exc: BaseException, command: str | None) -> str:
    where = f"taglake {command}" if command else "taglake"
    if isinstance(exc, TaglakeError):
        return f"{where}: {_first_line(str(exc))}"
    failed = _DBT_FAILED.fullmatch(_first_line(str(exc)))
    if type(exc).__name__ == "DbtError" and failed:
        return f"{where}: dbt exited with code {failed.group(1)}: its output above names the node that failed"
    name = type(exc).__name__
    code = _aws_code(exc)
    if code is not None:
        return f"{where}: AWS refused the call ({code}): check the credentials, role and permissions it needs"
    if _raised_by_project(exc) and isinstance(exc, (ValueError, LookupError, RuntimeError, OSError)):
        # Written by the project; a value quoted into it by mistake is still not shown.
        return f"{where}: {_QUOTED.sub(lambda m: m.group(0)[0] + '…' + m.group(0)[0], _first_line(str(exc)))}"
    return f"{where}: {name}: {hint_for(exc)} (the error's own text is withheld: it can carry data values)"


def _frames(exc: BaseException) -> list[str]:
    lines = []
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        lines.append(f"  at {code.co_filename}:{tb.tb_lineno} in {code.co_name}")
        tb = tb.tb_next
    return lines


def report(
    exc: BaseException,
    command: str | None,
    *,
    argv: Sequence[str] = (),
    stream: TextIO | None = None,
    debug: bool = False,
) -> int:
    """Print `describe(exc)` on stderr (with `debug`, then where it was raised: files and lines, no message and no
    variables) and return the exit code: 2 for a refusal, else 1."""
    out = stream or sys.stderr
    print(describe(exc, command, argv), file=out)
    if debug:
        for line in _frames(exc):
            print(line, file=out)
    return exc.exit_code if isinstance(exc, TaglakeError) else 1
