"""dbt's console and log lines pass the personal-data shapes' redaction on their way out (the last line behind
staging's safe casts and the pre-flight)."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from taglake.privacy.redacted_output import log_size, redact_log_tail, run_redacted

pytestmark = pytest.mark.redteam

# A national ID in full-width lower case and a mobile with the +886 prefix, as an engine error might quote them.
QUOTED = "Could not convert string 'ａ１２３４５６７８９' to INT32; line 7: +886 912-345-678"


def test_a_command_s_output_is_redacted_line_by_line(tmp_path: Path) -> None:
    echo = io.StringIO()
    code, output = run_redacted(
        [sys.executable, "-c", f"import sys; print({QUOTED!r}); sys.exit(3)"], cwd=tmp_path, env={}, echo=echo
    )
    assert code == 3
    assert output == echo.getvalue()
    assert "１２３４５６７８９" not in output and "345-678" not in output
    assert "[national_id]" in output and "[mobile]" in output


def test_only_the_lines_a_run_appended_to_the_log_are_rewritten(tmp_path: Path) -> None:
    log = tmp_path / "dbt.log"
    log.write_text("earlier run: nothing personal\n", encoding="utf-8")
    start = log_size(log)
    with log.open("a", encoding="utf-8") as fh:
        fh.write(QUOTED + "\n")
    assert redact_log_tail(log, start)
    text = log.read_text(encoding="utf-8")
    assert text.startswith("earlier run: nothing personal\n")
    assert "１２３４５６７８９" not in text and "[national_id]" in text
    assert not redact_log_tail(log, start)  # nothing left to redact
