"""Put a generated lake into S3 (`taglake upload`), with the keys the Glue catalog expects.

`<lake>/raw/<source>/<table>/year=…/month=…/day=…/<file>` goes to `s3://bucket/<prefix>/<source>/<table>/…`, the
layout `taglake catalog` registers. An object already there with the same size and ETag is skipped, so a second
run uploads nothing. The masking key never goes with it: hidden files and folders (`.secrets/`) and key files are
refused; the key is provisioned separately into its restricted location (docs/privacy.md).
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Files above this size go up in parts of this size; their ETag is then the MD5 of the parts' MD5s, "-N".
PART_SIZE = 8 * 1024 * 1024


@dataclass
class UploadReport:
    uploaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    bytes_uploaded: int = 0


def _is_secret(path: Path) -> bool:
    return any(part.startswith(".") for part in path.parts) or path.name == "masking_keys.csv"


def lake_files(lake_dir: Path) -> Iterator[tuple[Path, str]]:
    """Every file of the lake's raw zone and its key relative to the raw zone, in sorted order; never a hidden
    file or folder, never a key file."""
    raw = lake_dir / "raw"
    if not raw.is_dir():
        raise FileNotFoundError(f"no raw zone at {raw}: run `taglake generate` first")
    for path in sorted(raw.rglob("*")):
        rel = path.relative_to(raw)
        if path.is_file() and not _is_secret(rel):
            yield path, rel.as_posix()


def local_etag(path: Path, part_size: int = PART_SIZE) -> str:
    """The ETag S3 gives the file uploaded as this module uploads it (whole below `part_size`, else in parts)."""
    digests = []
    with path.open("rb") as fh:
        while chunk := fh.read(part_size):
            digests.append(hashlib.md5(chunk, usedforsecurity=False).digest())
    if len(digests) <= 1:
        return (digests[0] if digests else hashlib.md5(b"", usedforsecurity=False).digest()).hex()
    return f"{hashlib.md5(b''.join(digests), usedforsecurity=False).hexdigest()}-{len(digests)}"


def remote_objects(s3: Any, bucket: str, prefix: str) -> dict[str, tuple[int, str]]:
    """key → (size, ETag without quotes) of every object under the prefix."""
    found: dict[str, tuple[int, str]] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            found[obj["Key"]] = (obj["Size"], obj["ETag"].strip('"'))
    return found


def object_prefix(prefix: str) -> str:
    """The key prefix for a `--prefix` value: no leading slash, one trailing slash (none for the bucket root)."""
    p = prefix.strip("/")
    return f"{p}/" if p else ""


def upload_lake(
    s3: Any,
    lake_dir: Path,
    bucket: str,
    prefix: str = "raw",
    *,
    progress: Callable[[int, int, str], None] | None = None,
) -> UploadReport:
    """Upload what is missing or different; report what was uploaded and skipped."""
    from boto3.s3.transfer import TransferConfig

    config = TransferConfig(multipart_threshold=PART_SIZE, multipart_chunksize=PART_SIZE)
    base = object_prefix(prefix)
    existing = remote_objects(s3, bucket, base)
    files = list(lake_files(lake_dir))
    report = UploadReport()
    for i, (path, rel) in enumerate(files, start=1):
        key = base + rel
        size = path.stat().st_size
        if existing.get(key) == (size, local_etag(path)):
            report.skipped.append(key)
        else:
            s3.upload_file(str(path), bucket, key, Config=config)
            report.uploaded.append(key)
            report.bytes_uploaded += size
        if progress:
            progress(i, len(files), key)
    return report


def print_progress(done: int, total: int, key: str) -> None:
    """One updating line on a terminal."""
    if sys.stderr.isatty():
        end = "\n" if done == total else ""
        print(f"\r{done}/{total} files  {key[-60:]:<60}", end=end, file=sys.stderr, flush=True)


def s3_client(*, region: str | None = None, endpoint_url: str | None = None) -> Any:
    import boto3

    return boto3.client("s3", region_name=region, endpoint_url=endpoint_url)
