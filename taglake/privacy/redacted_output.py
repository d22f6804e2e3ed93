"""What dbt prints and logs, with every personal-data shape redacted on its way out.

dbt's console and its `logs/dbt.log` carry the engine's error messages, and an engine quotes data in some of them
(a value that would not convert, a CSV line it could not parse). Staging reads every raw field as text and types
it with casts that cannot fail, and the pre-flight (`taglake check-lake`) refuses the files an engine would choke
on, so such messages should never arise; this is the last line behind both: every line dbt prints through taglake
passes `taglake.privacy.patterns.redact`, and so does every line a run appends to dbt's log file.

A line that is a JSON object (dbt's `--log-format json`, as cosmos's watcher reads it) is decoded and redacted
value by value (`patterns.redact_json`): what JSON escapes is seen as the text it is, and dbt's own identifiers
(a node's unique_id, a run's invocation_id) stay whole, so the watcher still finds each node's status.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

from taglake.privacy.patterns import redact, redact_json


def redact_line(line: str) -> str:
    """One line of dbt's output, redacted: a JSON object value by value (dbt's identifiers spared), else as text.
    The line ending is kept."""
    body = line.rstrip("\r\n")
    if body.lstrip().startswith("{"):
        try:
            decoded = json.loads(body)
        except ValueError:
            decoded = None
        if isinstance(decoded, dict):
            clean = redact_json(decoded)
            return line if clean == decoded else json.dumps(clean, ensure_ascii=False) + line[len(body) :]
    return redact(line)


def run_redacted(
    cmd: Sequence[str], *, cwd: Path, env: Mapping[str, str], echo: TextIO | None = sys.stdout
) -> tuple[int, str]:
    """Run `cmd` with stdout and stderr merged; each line is redacted, written to `echo` as it comes (unless None)
    and kept. Returns the exit code and the redacted output."""
    kept: list[str] = []
    with subprocess.Popen(
        list(cmd),
        cwd=cwd,
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        errors="replace",
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            clean = redact_line(line)
            kept.append(clean)
            if echo is not None:
                echo.write(clean)
                echo.flush()
        code = proc.wait()
    return code, "".join(kept)


def log_size(path: Path) -> int:
    """The size of a log file now (0 when it does not exist yet): where the next run's lines will start."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def redact_log_tail(path: Path, start: int) -> bool:
    """Redact what was appended to `path` from byte `start` on, in place; True when anything was replaced."""
    if not path.is_file():
        return False
    size = path.stat().st_size
    if start > size:  # the log was rotated or replaced: redact it whole
        start = 0
    with path.open("r+b") as fh:
        fh.seek(start)
        tail = fh.read().decode("utf-8", errors="replace")
        clean = "".join(redact_line(line) for line in tail.splitlines(keepends=True))
        if clean == tail:
            return False
        fh.seek(start)
        fh.truncate()
        fh.write(clean.encode("utf-8"))
    return True
