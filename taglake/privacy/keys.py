"""The masking key on the local target: a key file outside git, made only by `taglake keys init`.

The file is a one-row CSV (key_version, k_inner, k_outer) that dbt reads as the source `privacy.masking_keys`, so
the key is joined at masking time and never appears in SQL text, compiled SQL, logs or dbt artifacts. On Athena and
Redshift the same relation is a restricted table; see docs/privacy.md.

Nothing but `init_key` creates a key (and it never replaces one); `check_key_file` is what every build runs first,
and its errors are one line naming the file and the fix, never a byte of the file.
"""

from __future__ import annotations

import csv
import hashlib
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

KEY_BYTES = 32
HEADER = ("key_version", "k_inner", "k_outer")
# Domain separation for the key's fingerprint (macros/privacy/key_checks.sql computes the same in SQL).
FINGERPRINT_LABEL = "taglake:key-fingerprint:v1"
_HEX = frozenset("0123456789abcdef")
_MAX_KEY_FILE_BYTES = 4096


class KeyFileError(ValueError):
    """The key file is missing, unreadable, malformed or too widely readable; the message names the file and the
    fix and holds nothing read from it."""


@dataclass(frozen=True)
class MaskingKey:
    key_version: int
    k_inner: str
    k_outer: str

    def __repr__(self) -> str:  # never print key material
        return f"MaskingKey(key_version={self.key_version}, k_inner=<hidden>, k_outer=<hidden>)"

    __str__ = __repr__

    @classmethod
    def new(cls, key_version: int) -> MaskingKey:
        return cls(key_version, secrets.token_hex(KEY_BYTES), secrets.token_hex(KEY_BYTES))

    def fingerprint(self) -> str:
        """A keyed fingerprint naming this key without revealing it: hex SHA-256(k_outer ‖ hex SHA-256(k_inner ‖
        label)), the token construction over a fixed label. Recorded in the database (key_state)."""
        inner = hashlib.sha256((self.k_inner + FINGERPRINT_LABEL).encode()).hexdigest()
        return hashlib.sha256((self.k_outer + inner).encode()).hexdigest()


def _is_key_part(text: str) -> bool:
    return len(text) == 2 * KEY_BYTES and all(c in _HEX for c in text)


def _malformed(path: Path) -> KeyFileError:
    return KeyFileError(
        f"{path} is not a valid masking key (a header {','.join(HEADER)} and one row: an integer version and two "
        f"{2 * KEY_BYTES}-hex-digit parts): restore it from the system account's backup; a new key would orphan "
        "every token already built (docs/privacy.md, section 3)"
    )


def read_key(path: Path) -> MaskingKey:
    """The key in a key file; KeyFileError when the file is not exactly one well-formed key. Never quotes it."""
    try:
        raw = path.read_bytes()[: _MAX_KEY_FILE_BYTES + 1]
    except FileNotFoundError:
        raise KeyFileError(
            f"no masking key at {path}: make one with `taglake keys init` (once per checkout; docs/privacy.md)"
        ) from None
    except OSError:
        raise KeyFileError(f"{path} cannot be read: give its owner read access (chmod 600 {path})") from None
    if len(raw) > _MAX_KEY_FILE_BYTES:
        raise _malformed(path)
    try:
        rows = list(csv.reader(raw.decode("utf-8").splitlines()))
    except (UnicodeDecodeError, csv.Error):
        raise _malformed(path) from None
    if len(rows) != 2 or tuple(rows[0]) != HEADER or len(rows[1]) != len(HEADER):
        raise _malformed(path)
    version, inner, outer = rows[1]
    if not version.isascii() or not version.isdigit() or not _is_key_part(inner) or not _is_key_part(outer):
        raise _malformed(path)
    return MaskingKey(int(version), inner, outer)


def check_key_file(path: Path) -> MaskingKey:
    """What every local build checks first: the key file exists, is a regular file readable by its owner only, and
    holds one well-formed key. KeyFileError (one line: the file and the fix) otherwise."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        raise KeyFileError(
            f"no masking key at {path}: make one with `taglake keys init` (once per checkout; docs/privacy.md)"
        ) from None
    if not stat.S_ISREG(info.st_mode):
        raise KeyFileError(f"{path} is not a regular file: the masking key must be a plain file (docs/privacy.md)")
    if info.st_mode & 0o077:
        raise KeyFileError(
            f"{path} is readable by group or others (mode {stat.S_IMODE(info.st_mode):o}): "
            f"run `chmod 600 {path}`, and treat the key as exposed if others could read it (docs/privacy.md)"
        )
    return read_key(path)


def write_key(path: Path, key: MaskingKey, *, exclusive: bool = False) -> None:
    """Write a key file readable by its owner only. `exclusive`: fail if `path` exists (O_EXCL, no race);
    otherwise the file is replaced atomically (written beside it, fsynced, renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    target = path if exclusive else path.with_name(path.name + ".tmp")
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(target, flags, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerow((key.key_version, key.k_inner, key.k_outer))
        fh.flush()
        os.fsync(fh.fileno())
    if not exclusive:
        os.replace(target, path)


def init_key(path: Path, *, if_missing: bool = False) -> tuple[MaskingKey, bool]:
    """Make the first key (version 1) in `path`: the only way a key comes to exist. Never replaces a key: when
    one is there, KeyFileError, or with `if_missing` the checked existing key. Returns (key, made)."""
    if path.exists() or path.is_symlink():
        if if_missing:
            return check_key_file(path), False
        raise KeyFileError(
            f"{path} already holds a masking key: `taglake keys init` never replaces one (a new key orphans every "
            "token built); to change it use `taglake keys rotate --as-system` (docs/privacy.md)"
        )
    key = MaskingKey.new(1)
    try:
        write_key(path, key, exclusive=True)
    except FileExistsError:
        raise KeyFileError(f"{path} appeared while making it: run `taglake keys status`") from None
    return key, True
