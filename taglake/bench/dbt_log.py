"""dbt's debug log (logs/dbt.log) read back: every SQL statement a build ran, on which connection, in the order the
statements started, with the seconds dbt recorded for each.

dbt 1.11 writes a statement as `On <connection>: <sql>` (the SQL may go on over the next lines) and, when it has
run, `SQL status: <status> in <seconds> seconds` on the same thread. A node's connection is named by its unique id
(`model.taglake.stg_x`, `test.taglake.…`, `snapshot.…`, `seed.…`); the run's hooks and introspection run on
connections named otherwise (`master`, `list_…`, `create_…`). The benchmarks read it to say where a build's time
went (taglake.bench.masking_build.statement_seconds), how many statements ran at once (statements_at_once), and to
replay the statements that wrote the build's tables as a plain DuckDB script (taglake.bench.plain_script).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_LOG_MESSAGE = re.compile(r"^(?:\x1b\[0m)?\d\d:\d\d:\d\d\.\d+ \[\w+ *\] \[([^\]]+)\]: (.*)$")
_ON_CONNECTION = re.compile(r"^On ([^:\s]+): ?(.*)$", re.DOTALL)
_SQL_STATUS = re.compile(r"^SQL status: \S+ in ([0-9.]+) seconds")
# dbt ends the logged text of some statements (a seed's COPY) with a line holding only "..."
_TRAILING_ELLIPSIS = re.compile(r"\n\s*\.\.\.\s*$")


@dataclass(frozen=True)
class LoggedStatement:
    """One statement dbt ran: its connection (a node's unique id, or `master`, …), its SQL, its seconds."""

    connection: str
    sql: str
    seconds: float

    @property
    def resource_type(self) -> str:
        """model, snapshot, seed, test, unit_test … for a node's connection; the connection's name otherwise."""
        return self.connection.split(".", 1)[0]

    @property
    def node_name(self) -> str:
        """A model's, snapshot's or seed's relation name (a versioned model's `<name>.v1` is `<name>_v1`), a test's
        name; the connection's name for any other connection."""
        parts = self.connection.split(".")
        if len(parts) < 3:
            return self.connection
        return parts[2] if self.resource_type in ("test", "unit_test") else "_".join(parts[2:])


def _messages(log_file: Path) -> Iterator[tuple[str, str]]:
    """(thread, text) of each log message, its continuation lines joined to it."""
    current: tuple[str, list[str]] | None = None
    with log_file.open(encoding="utf-8", errors="replace") as fh:
        for raw in fh:
            line = raw.rstrip("\n")
            match = _LOG_MESSAGE.match(line)
            if match:
                if current is not None:
                    yield current[0], "\n".join(current[1])
                current = (match.group(1), [match.group(2)])
            elif current is not None:
                current[1].append(line)
    if current is not None:
        yield current[0], "\n".join(current[1])


def logged_statements(log_file: Path) -> list[LoggedStatement]:
    """Every statement that completed (its status logged), in the order they started."""
    started: list[tuple[str, str]] = []  # connection and SQL of each statement, in start order
    running: dict[str, int] = {}  # thread → index in `started` of the statement it is running
    seconds: dict[int, float] = {}
    for thread, text in _messages(log_file):
        on = _ON_CONNECTION.match(text)
        if on:
            running[thread] = len(started)
            started.append((on.group(1), _TRAILING_ELLIPSIS.sub("", on.group(2))))
            continue
        status = _SQL_STATUS.match(text)
        if status and thread in running:
            seconds[running.pop(thread)] = float(status.group(1))
    return [
        LoggedStatement(connection, sql, seconds[index])
        for index, (connection, sql) in enumerate(started)
        if index in seconds
    ]


_TIMESTAMP = re.compile(r"^(?:\x1b\[0m)?(\d\d):(\d\d):(\d\d\.\d+) \[")
_FIRST_NODE = re.compile(r"\]: 1 of \d+ START ")


def seconds_from_first_node(log_file: Path) -> float | None:
    """Seconds from the start of the run's first node to the log's last message (the nodes, the hooks after them
    and dbt's closing); with the process's wall time, what came before is Python's start-up and dbt's parse.
    None when the log shows no node started. A run that crosses midnight is counted across it."""
    first: float | None = None
    last: float | None = None
    for seconds, line in _stamped_lines(log_file):
        if first is None and _FIRST_NODE.search(line):
            first = seconds
        if first is not None:
            last = seconds
    if first is None or last is None:
        return None
    return (last - first) % 86400


def _stamped_lines(log_file: Path) -> Iterator[tuple[float, str]]:
    """(seconds of the day, line) of each line of the log that starts a message."""
    with log_file.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            stamp = _TIMESTAMP.match(line)
            if stamp:
                yield int(stamp.group(1)) * 3600 + int(stamp.group(2)) * 60 + float(stamp.group(3)), line


def statements_at_once(log_file: Path) -> dict[int, float] | None:
    """From the first node to the log's last message, the seconds during which 0, 1, 2 … statements were running
    (a statement ran for the seconds its `SQL status` line gives, up to that line), whatever their connection: with
    two threads, {2: …} is the time both had a query in the engine, {0: …} the time neither had (dbt's own work,
    Python). The values add up to seconds_from_first_node. None when the log shows no node started."""
    first: float | None = None
    last = 0.0
    intervals: list[tuple[float, float]] = []
    for seconds, line in _stamped_lines(log_file):
        if first is None:
            if not _FIRST_NODE.search(line):
                continue
            first = seconds
        at = (seconds - first) % 86400  # a run that crosses midnight is counted across it
        last = at
        message = _LOG_MESSAGE.match(line.rstrip("\n"))
        status = _SQL_STATUS.match(message.group(2)) if message else None
        if status:
            intervals.append((max(at - float(status.group(1)), 0.0), at))
    if first is None:
        return None
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    spans: dict[int, float] = {}
    running, since = 0, 0.0
    for at, change in events:
        spans[running] = spans.get(running, 0.0) + (at - since)
        running, since = running + change, at
    spans[running] = spans.get(running, 0.0) + (last - since)
    return {count: spans[count] for count in sorted(spans) if spans[count] > 0}
