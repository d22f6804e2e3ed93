"""What a parse checker found in a SQL text, kept on disk between `taglake verify` runs.

A checker's problems are a pure function of the SQL text, the dialect, the checker's version and taglake's checking
code, so they are kept under the sha256 of exactly those (`ParseCache.key`): a changed text, dialect, library or
checking code is a different key, hence a miss, hence a parse. Only the problems are stored (a JSON list of
strings: what the report prints anyway), never the SQL text. A file that cannot be read as such a list is ignored
(and replaced by the next parse). Folder: `$XDG_CACHE_HOME/taglake/verify-parse` (default `~/.cache`).
Docs: docs/verification.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

FOLDER = Path("taglake") / "verify-parse"


def default_folder() -> Path:
    """`$XDG_CACHE_HOME/taglake/verify-parse`, or `~/.cache/taglake/verify-parse` when XDG_CACHE_HOME is unset or
    not absolute (as the XDG base directory specification says)."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / FOLDER


@dataclass(frozen=True)
class ParseCache:
    """Problems lists on disk, one small JSON file per key."""

    folder: Path

    @classmethod
    def default(cls) -> ParseCache:
        return cls(default_folder())

    @staticmethod
    def key(parts: Sequence[str]) -> str:
        """The sha256 of `parts` (checker, its version, the checking code's fingerprint, dialect, SQL text)."""
        return hashlib.sha256(json.dumps(list(parts), ensure_ascii=False).encode("utf-8")).hexdigest()

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> list[str] | None:
        """The problems kept under `key`, or None: absent, unreadable or not a list of strings (then ignored)."""
        try:
            value = json.loads(self._path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        problems = value.get("problems") if isinstance(value, dict) else None
        if not isinstance(problems, list) or not all(isinstance(p, str) for p in problems):
            return None
        return problems

    def put(self, key: str, problems: Sequence[str]) -> None:
        """Keep `problems` under `key` (written whole or not at all); a folder that cannot be written is no
        failure: the next run parses again."""
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        except OSError:
            return
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump({"problems": list(problems)}, out)
            os.replace(temporary, path)
        except OSError:
            Path(temporary).unlink(missing_ok=True)
