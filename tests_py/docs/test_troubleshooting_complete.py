"""docs/troubleshooting.md has an entry for every error message the command line can print (tests_py/cli_messages.py
collects them from the package's source), and lists none the code no longer prints."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest
from cli_messages import Message
from cli_messages import messages as collect

from taglake.core.project import Project

pytestmark = pytest.mark.docs

ROOT = Project.locate().root
PACKAGE = ROOT / "taglake"
DOC = ROOT / "docs" / "troubleshooting.md"


@functools.cache
def _package_messages() -> tuple[Message, ...]:
    return tuple(collect(PACKAGE))


def _listed(text: str) -> set[str]:
    """The lines of the page's ```text blocks, whitespace collapsed: the messages it lists."""
    found: set[str] = set()
    for block in re.findall(r"^```text\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL):
        found.update(re.sub(r"\s+", " ", line).strip() for line in block.splitlines() if line.strip())
    return found


def _run_time_section(text: str) -> str:
    return text.split("## Messages built at run time", 1)[1].split("\n## ", 1)[0]


def test_every_message_the_cli_prints_has_an_entry() -> None:
    listed = _listed(DOC.read_text(encoding="utf-8"))
    missing = sorted({f"{m.where}: {m.text}" for m in _package_messages() if m.text and m.text not in listed})
    assert not missing, "no entry in docs/troubleshooting.md for:\n" + "\n".join(missing)


def test_every_message_built_at_run_time_has_its_family_entry() -> None:
    section = _run_time_section(DOC.read_text(encoding="utf-8"))
    missing = sorted(
        {f"{m.where}: {m.cls}" for m in _package_messages() if m.text is None and f"`{m.cls}`" not in section}
    )
    assert not missing, "no family entry under 'Messages built at run time' for:\n" + "\n".join(missing)


def test_the_page_lists_no_message_the_code_no_longer_prints() -> None:
    current = {m.text for m in _package_messages() if m.text}
    stale = sorted(_listed(DOC.read_text(encoding="utf-8")) - current - {"taglake <command>: <message>"})
    assert not stale, "docs/troubleshooting.md lists messages no code prints:\n" + "\n".join(stale)


def test_the_collector_sees_literal_f_string_and_dynamic_messages(tmp_path: Path) -> None:
    """A new message of each shape is found, so a message added to the package cannot slip past the page."""
    package = tmp_path / "taglake"
    (package / "core").mkdir(parents=True)
    (package / "core" / "errors.py").write_text(
        "class TaglakeError(Exception): ...\n_HINTS = {'X': 'check the x'}\n", encoding="utf-8"
    )
    (package / "thing.py").write_text(
        "from taglake.core.errors import TaglakeError\n"
        "class ThingError(TaglakeError): ...\n"
        "class Deeper(ThingError): ...\n"
        "def f(path, text):\n"
        "    raise Deeper(f'no thing at {path}: run `taglake thing init`')\n"
        "def g():\n"
        "    raise ValueError('a literal ' 'one')\n"
        "def h(text):\n"
        "    raise ThingError(text)\n"
        "def i():\n"
        "    raise AssertionError('not printed')\n",
        encoding="utf-8",
    )
    found = {(m.cls, m.text) for m in collect(package)}
    assert ("Deeper", "no thing at …: run `taglake thing init`") in found
    assert ("ValueError", "a literal one") in found
    assert ("ThingError", None) in found
    assert ("hint", "check the x") in found
    assert not any(cls == "AssertionError" for cls, _ in found)
