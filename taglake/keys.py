"""The masking key on the local target: a key file outside git, made with strong randomness on first use.

The file is a one-row CSV (key_version, k_inner, k_outer) that dbt reads as the source `privacy.masking_keys`, so
the key is joined at masking time and never appears in SQL text, compiled SQL, logs or dbt artifacts. On Athena and
Redshift the same relation is a restricted table; see docs/privacy.md.
"""

from __future__ import annotations

import csv
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

KEY_BYTES = 32
HEADER = ("key_version", "k_inner", "k_outer")


@dataclass(frozen=True)
class MaskingKey:
    key_version: int
    k_inner: str
    k_outer: str

    def __repr__(self) -> str:  # never print key material
        return f"MaskingKey(key_version={self.key_version}, k_inner=<hidden>, k_outer=<hidden>)"

    @classmethod
    def new(cls, key_version: int) -> MaskingKey:
        return cls(key_version, secrets.token_hex(KEY_BYTES), secrets.token_hex(KEY_BYTES))


def read_key(path: Path) -> MaskingKey:
    """The key in a key file; ValueError when the file is not exactly one well-formed key."""
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    if len(rows) != 2 or tuple(rows[0]) != HEADER:
        raise ValueError(f"{path}: a key file holds a header {','.join(HEADER)} and exactly one key row")
    version, inner, outer = rows[1]
    for part in (inner, outer):
        if len(part) != 2 * KEY_BYTES or any(c not in "0123456789abcdef" for c in part):
            raise ValueError(f"{path}: each key part must be {2 * KEY_BYTES} lowercase hex digits")
    return MaskingKey(int(version), inner, outer)


def write_key(path: Path, key: MaskingKey) -> None:
    """Write a key file readable by its owner only, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerow((key.key_version, key.k_inner, key.k_outer))
    os.replace(tmp, path)


def ensure_key(path: Path) -> MaskingKey:
    """The key in `path`, made (version 1) if the file does not exist yet."""
    if not path.exists():
        write_key(path, MaskingKey.new(1))
    return read_key(path)


def rotate_key(path: Path) -> MaskingKey:
    """Replace the key with a new one of the next version. Every token changes: rebuild with --full-refresh."""
    current = read_key(path)
    key = MaskingKey.new(current.key_version + 1)
    write_key(path, key)
    return key
