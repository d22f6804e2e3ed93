"""`taglake verify`'s progress: one short line per step and target as it starts and as it ends, with its time.

Lines go to a stream (the command gives stderr, so stdout stays the report) as `verify: <what> …` then
`verify: <what>: <n> s`; a long step adds a count at most every `every` seconds. Plain text, no colour, no
terminal control: the same on a terminal and in a log. They name steps, targets and counts, never a value.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TextIO


@dataclass
class Progress:
    """Writes progress lines to `stream` (None: nowhere, as for a library caller)."""

    stream: TextIO | None = None
    every: float = 15.0
    clock: Callable[[], float] = time.monotonic
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def line(self, text: str) -> None:
        if self.stream is None:
            return
        with self._lock:
            print(f"verify: {text}", file=self.stream, flush=True)

    @contextmanager
    def step(self, what: str, detail: str = "") -> Iterator[Counter]:
        """`what: detail …` now, `what: N s` when the block ends (`what: failed after N s` when it raises); the
        block may report counts, and a note for the last line, through the Counter it gets."""
        start = self.clock()
        self.line(f"{what}: {detail} …" if detail else f"{what} …")
        counter = Counter(self, what, start)
        try:
            yield counter
        except BaseException:
            self.line(f"{what}: failed after {self.clock() - start:.0f} s")
            raise
        self.line(f"{what}: {counter.done_text()}{self.clock() - start:.0f} s")


@dataclass
class Counter:
    """`n/total <unit>` lines of one step, at most one every `Progress.every` seconds."""

    progress: Progress
    what: str
    start: float
    done: int = 0
    total: int = 0
    unit: str = ""
    note: str = ""
    _last: float = 0.0

    def __post_init__(self) -> None:
        self._last = self.start

    def expect(self, more: int, unit: str) -> None:
        """`more` items of `unit` to come (added to those already expected)."""
        self.total, self.unit = self.total + more, unit

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = self.progress.clock()
        if now - self._last >= self.progress.every and self.done < self.total:
            self._last = now
            self.progress.line(f"{self.what}: {self.done}/{self.total} {self.unit}, {now - self.start:.0f} s")

    def done_text(self) -> str:
        counts = f"{self.done}/{self.total} {self.unit}, " if self.total else ""
        return counts + (f"{self.note}, " if self.note else "")
