"""Put a generated lake into S3 (`taglake upload`), with the keys the Glue catalog expects.

`<lake>/raw/<source>/<table>/year=…/month=…/day=…/<file>` goes to `s3://bucket/<prefix>/<source>/<table>/…`, the
layout `taglake catalog` registers. An object already there with the same size and ETag (or, in a KMS-encrypted
bucket, the ETag recorded in its metadata) is skipped, so a second run uploads nothing. The masking key never goes
with it: hidden files and folders (`.secrets/`) and key files (by name or header) are refused; the key is
provisioned separately into its restricted location (docs/privacy.md).
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


KEY_FILE_HEADER = b"key_version,k_inner,k_outer"
# Each object carries the ETag its content would have unencrypted: with SSE-KMS, S3's own ETag is not an MD5.
ETAG_METADATA = "taglake-etag"


def _is_secret(rel: Path, path: Path) -> bool:
    """A hidden file or folder (`.secrets/`), or a masking key file by name or by its header."""
    if any(part.startswith(".") for part in rel.parts) or rel.name == "masking_keys.csv":
        return True
    with path.open("rb") as fh:
        return fh.read(len(KEY_FILE_HEADER)) == KEY_FILE_HEADER


def lake_files(lake_dir: Path) -> Iterator[tuple[Path, str]]:
    """Every file of the lake's raw zone and its key relative to the raw zone, in sorted order; never a hidden
    file or folder, never a key file."""
    raw = lake_dir / "raw"
    if not raw.is_dir():
        raise FileNotFoundError(f"no raw zone at {raw}: run `taglake generate` first")
    for path in sorted(raw.rglob("*")):
        rel = path.relative_to(raw)
        if path.is_file() and not _is_secret(rel, path):
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
        size, etag = path.stat().st_size, local_etag(path)
        if key in existing and _same(s3, bucket, key, existing[key], size, etag):
            report.skipped.append(key)
        else:
            s3.upload_file(str(path), bucket, key, Config=config, ExtraArgs={"Metadata": {ETAG_METADATA: etag}})
            report.uploaded.append(key)
            report.bytes_uploaded += size
        if progress:
            progress(i, len(files), key)
    return report


def _same(s3: Any, bucket: str, key: str, remote: tuple[int, str], size: int, etag: str) -> bool:
    """The object holds the file: same size, and the same ETag, or (KMS-encrypted, where the ETag is no MD5) the
    ETag recorded in its metadata when it was uploaded."""
    remote_size, remote_etag = remote
    if remote_size != size:
        return False
    if remote_etag == etag:
        return True
    metadata = s3.head_object(Bucket=bucket, Key=key).get("Metadata", {})
    return metadata.get(ETAG_METADATA) == etag


def print_progress(done: int, total: int, key: str) -> None:
    """One updating line on a terminal."""
    if sys.stderr.isatty():
        end = "\n" if done == total else ""
        print(f"\r{done}/{total} files  {key[-60:]:<60}", end=end, file=sys.stderr, flush=True)


def s3_client(*, region: str | None = None, endpoint_url: str | None = None) -> Any:
    import boto3

    return boto3.client("s3", region_name=region, endpoint_url=endpoint_url)
