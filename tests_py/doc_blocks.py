"""The shell and SQL blocks of the docs (docs/**/*.md and README.md), each with the kind it is run as.

A block's kind is declared next to it, on the line before its fence, as `<!-- docs-test: KIND [key=value …] -->`;
a block with no declaration is of kind `run` (run as it is). The kinds:

- `run`: the block runs for real: in bash (`set -eo pipefail`), or, when every command is a plain `taglake …` (no
  pipe, redirection or substitution), through the same entry point (taglake.cli.main) in the test process, so dbt
  parses the project once for all blocks; an SQL block statement by statement through `taglake query --sql`.
- `dry-run`: a command that builds everything or needs an engine this machine does not have: `make T` runs as
  `make -n T`; `taglake ARGS` is parsed by the real parser and checked as the command line checks it before anything
  runs (the target exists, the system identity, the dbt passthrough policy), without running the command;
  `as=system` with the local system identity, `as=aws-system` in a session of the system role assumed on a
  moto_server (an AWS `*_system` target checks the caller's role); `python FILE` compiles FILE.
- `server port=P`: a line that starts a server (`taglake serve api`, `taglake api serve`, `make dashboard`,
  `make docs-serve`) is started on a free port instead of P (every `:P` in the block follows it), probed on
  127.0.0.1 until it answers HTTP, and stopped when the next server starts or the block ends; the other lines run for
  real against it.
- `aws setup=NAME`: the block runs for real with the AWS CLI against a moto_server on 127.0.0.1 (AWS_ENDPOINT_URL),
  after the test's setup NAME made the resources it names.
- `system`: the block runs for real with the system identity (TAGLAKE_SYSTEM_IDENTITY), made the documented way.
- `oracle`: an SQL block written for the Oracle replica: every statement parses in sqlglot's Oracle dialect.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

LANGUAGES = {"bash": "shell", "sh": "shell", "shell": "shell", "sql": "sql"}
KINDS = ("run", "dry-run", "server", "aws", "system", "oracle")
_FENCE = re.compile(r"^(\s*)```(\w+)?\s*$")
_ANNOTATION = re.compile(r"^\s*<!--\s*docs-test:\s*(?P<kind>[\w-]+)(?P<opts>(?:\s+[\w-]+=\S+)*)\s*-->\s*$")
# Lines that start a server (server kind).
SERVER_STARTS = ("taglake serve api", "taglake api serve", "make dashboard", "make docs-serve")


@dataclass(frozen=True)
class Block:
    """One fenced block: where it is, its language (shell or sql), its kind and options, and its text."""

    doc: str
    line: int
    language: str
    kind: str
    options: dict[str, str] = field(default_factory=dict)
    text: str = ""

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line}"


def doc_files(root: Path) -> list[Path]:
    """README.md and every Markdown file under docs/."""
    return [root / "README.md", *sorted((root / "docs").rglob("*.md"))]


def blocks_of(path: Path, root: Path) -> list[Block]:
    """The shell and SQL blocks of one Markdown file, with their declared kinds; a malformed declaration or an
    unknown kind is an error (ValueError naming the line)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            if lines[i].lstrip().startswith("<!--") and "docs-test:" in lines[i] and not _ANNOTATION.match(lines[i]):
                raise ValueError(f"{path.relative_to(root)}:{i + 1}: malformed docs-test declaration")
            i += 1
            continue
        indent, language = opening.group(1), (opening.group(2) or "").lower()
        end = i + 1
        while end < len(lines) and not lines[end].strip().startswith("```"):
            end += 1
        if language in LANGUAGES:
            kind, options = "run", {}
            declared = _ANNOTATION.match(lines[i - 1]) if i > 0 else None
            if declared:
                kind = declared.group("kind")
                options = dict(opt.split("=", 1) for opt in declared.group("opts").split())
                if kind not in KINDS:
                    raise ValueError(f"{path.relative_to(root)}:{i}: unknown docs-test kind {kind}")
            body = "\n".join(line[len(indent) :] if line.startswith(indent) else line for line in lines[i + 1 : end])
            found.append(Block(str(path.relative_to(root)), i + 1, LANGUAGES[language], kind, options, body))
        i = end + 1
    return found


def commands_of(text: str) -> list[str]:
    """The block's commands: continuation lines joined, comment-only lines and trailing comments dropped (a `#`
    inside quotes stays)."""
    joined: list[str] = []
    current = ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        if current.strip():
            joined.append(current)
        current = ""
    if current.strip():
        joined.append(current)
    out = []
    for command in joined:
        stripped = _strip_comment(command).strip()
        if stripped:
            out.append(stripped)
    return out


def _strip_comment(command: str) -> str:
    """The command up to its first unquoted ` #`."""
    quote = ""
    for index, char in enumerate(command):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or command[index - 1].isspace()):
            return command[:index]
    return command


def split_sql(text: str) -> list[str]:
    """The statements of an SQL block (separated by `;` at a line end), comment lines dropped."""
    statements, current = [], []
    for line in text.splitlines():
        if line.strip().startswith("--") or not line.strip():
            continue
        current.append(line)
        if line.rstrip().endswith(";"):
            statements.append("\n".join(current).rstrip().rstrip(";"))
            current = []
    if current:
        statements.append("\n".join(current))
    return statements


_PLACEHOLDER = re.compile(r"<[a-z][a-z_ -]*[a-z]>")


def substitute(text: str, values: dict[str, str]) -> str:
    """Replace `<placeholder>`s by their values; a standalone `…` (and so on) is dropped. An unknown placeholder
    is an error (KeyError naming it)."""
    text = re.sub(r"(?<=\s)…(?=\s|$)", "", text)

    def one(match: re.Match[str]) -> str:
        name = match.group(0)
        if name not in values:
            raise KeyError(f"no value for placeholder {name}")
        return values[name]

    return _PLACEHOLDER.sub(one, text)
