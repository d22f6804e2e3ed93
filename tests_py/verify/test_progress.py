"""`taglake verify`'s progress lines: a start and an end per step, counts now and then, plain text."""

from __future__ import annotations

import io

import pytest

from taglake.verify.progress import Progress


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_step_says_when_it_starts_and_how_long_it_took() -> None:
    out, clock = io.StringIO(), Clock()
    progress = Progress(out, every=10, clock=clock)
    with progress.step("compile athena"):
        clock.now = 41.4
    with progress.step("parse athena", "255 nodes") as counter:
        counter.expect(4, "checks")
        counter.advance(1)  # at 41.4 s: less than 10 s since the start of the step, no line
        clock.now = 52.0
        counter.advance(1)  # 10.6 s after: a line
        counter.advance(1)  # not 10 s since the last line
        clock.now = 63.0
        counter.advance(1)  # all done: the end line says so
        counter.note = "3 from the cache, 1 parsed"
    assert out.getvalue().splitlines() == [
        "verify: compile athena …",
        "verify: compile athena: 41 s",
        "verify: parse athena: 255 nodes …",
        "verify: parse athena: 2/4 checks, 11 s",
        "verify: parse athena: 4/4 checks, 3 from the cache, 1 parsed, 22 s",
    ]


def test_a_failed_step_says_so_and_the_error_goes_on() -> None:
    out, clock = io.StringIO(), Clock()
    with pytest.raises(RuntimeError), Progress(out, clock=clock).step("conformance redshift"):
        clock.now = 3
        raise RuntimeError("boom")
    assert out.getvalue().splitlines()[-1] == "verify: conformance redshift: failed after 3 s"


def test_no_stream_no_output_and_never_a_control_character() -> None:
    with Progress().step("compile athena") as counter:  # a library caller: silent
        counter.expect(1, "x")
        counter.advance()
    out = io.StringIO()
    with Progress(out, every=0).step("parse redshift") as counter:
        counter.expect(3, "checks")
        counter.advance()
    assert out.getvalue() and not any(c < " " and c != "\n" for c in out.getvalue())
