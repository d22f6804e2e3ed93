"""Every error message the `taglake` command line can print, found in the package's source (its AST), each as its
fixed text: the literal parts of the message, every interpolated value as `…`, whitespace collapsed, first line
only (taglake.core.errors prints one line).

What the command line prints (taglake.cli.main → taglake.core.errors.describe): the message of a `TaglakeError`
(and its subclasses, `Refused` …); the message of a ValueError, LookupError, RuntimeError or OSError raised by the
package itself; for anything else, the class's hint from `_HINTS`; and a few lines cli.py and the commands print on
stderr themselves. A raise whose message is not a literal or an f-string (`raise ScanError(text)`) cannot be read
here: it is listed by its class, so that its family has an entry too.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

BUILTIN_PRINTED = {
    "ValueError",
    "LookupError",
    "KeyError",
    "IndexError",
    "RuntimeError",
    "OSError",
    "FileNotFoundError",
    "FileExistsError",
    "PermissionError",
    "NotADirectoryError",
    "IsADirectoryError",
    "TaglakeError",
    "Refused",
}


@dataclass(frozen=True)
class Message:
    """One message: its fixed text (None when not literal), the class raised, and where."""

    text: str | None
    cls: str
    where: str


def _normalise(text: str) -> str:
    first = text.strip().splitlines()[0] if text.strip() else ""
    return re.sub(r"\s+", " ", first).strip()


def _fixed(node: ast.expr) -> str | None:
    """The literal text of a message expression, `…` for each interpolated value; None when not literal."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(str(value.value))
            else:
                parts.append("…")
        return "".join(parts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _fixed(node.left), _fixed(node.right)
        return None if left is None or right is None else left + right
    return None


def _class_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def printed_classes(package: Path) -> set[str]:
    """The names of the classes whose messages the command line prints: the built-in ones above and every class of
    the package that derives from one of them (by name, transitively)."""
    bases: dict[str, set[str]] = {}
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases.setdefault(node.name, set()).update(filter(None, (_class_name(b) for b in node.bases)))
    printed = set(BUILTIN_PRINTED)
    changed = True
    while changed:
        changed = False
        for name, its_bases in bases.items():
            if name not in printed and its_bases & printed:
                printed.add(name)
                changed = True
    return printed


def _is_stderr(call: ast.Call) -> bool:
    return any(
        kw.arg == "file" and isinstance(kw.value, ast.Attribute) and kw.value.attr == "stderr" for kw in call.keywords
    )


def messages(package: Path) -> list[Message]:
    """Every message the command line can print, from the package's source."""
    printed = printed_classes(package)
    found: list[Message] = []
    for path in sorted(package.rglob("*.py")):
        rel = str(path.relative_to(package.parent))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                cls = _class_name(node.exc.func)
                if cls not in printed:
                    continue
                text = _fixed(node.exc.args[0]) if node.exc.args else ""
                found.append(Message(None if text is None else _normalise(text), cls, f"{rel}:{node.lineno}"))
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "print"
                and _is_stderr(node)
                and node.args
            ):
                text = _fixed(node.args[0])
                # A line the code prints as it is (a progress bar, a server's request log) is not an error message.
                if text and re.search(r"[a-z]{3}", text.replace("…", "")):
                    found.append(Message(_normalise(text), "stderr", f"{rel}:{node.lineno}"))
    found.extend(Message(_normalise(hint), "hint", "taglake/core/errors.py") for hint in _hints(package))
    return found


def _hints(package: Path) -> list[str]:
    """The hints taglake.core.errors prints for an error whose own text is withheld."""
    tree = ast.parse((package / "core" / "errors.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "_HINTS" for t in node.targets):
            assert isinstance(node.value, ast.Dict)
            return [_fixed(v) or "" for v in node.value.values]
    raise AssertionError("taglake/core/errors.py has no _HINTS")
