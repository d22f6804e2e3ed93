"""`taglake api serve`: the Lambda handler on 127.0.0.1 as a user runs it, answering a plain HTTP POST (what curl
sends) by landing the batch in the lake's last landing day; the API key comes from a file or the environment and
is never printed; only the loopback address is served."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from ingest_records import app_event, national_id
from project_copy import run_taglake

from taglake.core.project import Project
from taglake.ingest.local import local_api_key

pytestmark = pytest.mark.api

PLANTED = national_id("M", "11223344")  # in a request path: werkzeug's own access log would print it


def _lake(tmp_path: Path) -> Path:
    lake = tmp_path / "lake"
    (lake / "raw").mkdir(parents=True)
    (lake / "manifest.json").write_text(json.dumps({"params": {"last_date": "2026-10-31"}}), encoding="utf-8")
    return lake


def _post(port: int, body: bytes, key: str, path: str = "/ingest/digital/app_events") -> tuple[int, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=body,
        headers={"x-api-key": key, "x-request-id": str(uuid.uuid4()), "content-type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_a_batch_posted_over_http_lands_in_the_local_lake_and_the_key_is_never_printed(tmp_path: Path) -> None:
    lake = _lake(tmp_path)
    key = "local-test-key-" + uuid.uuid4().hex
    env = {**os.environ, "TAGLAKE_API_KEY": key, "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "taglake", "api", "serve", "--port", "0", "--lake-dir", str(lake)],
        cwd=Project.locate().root,
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        # started as make's background jobs are under a non-interactive shell (CI): with SIGINT ignored, which a
        # child inherits; Ctrl-C must stop the server all the same
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        assert server.stderr is not None
        lines = [server.stderr.readline(), server.stderr.readline()]
        match = re.search(r"http://127\.0\.0\.1:(\d+)/ingest", lines[1])
        assert match, "the server did not announce its address"
        port = int(match.group(1))
        assert "landing day 2026-10-31" in lines[1] and "TAGLAKE_API_KEY" in lines[0]
        status, answer = _post(port, json.dumps([app_event(), app_event()]).encode(), key)
        assert status == 200 and answer["accepted"] == 2
        assert _post(port, b"[]", "wrong-key")[0] == 403
        assert _post(port, b"[]", key, path=f"/ingest/{PLANTED}/app_events")[0] == 404
        [landed] = (lake / "raw" / "digital" / "app_events" / "year=2026" / "month=10" / "day=31").glob("*.jsonl")
        assert len(landed.read_text(encoding="utf-8").splitlines()) == 2
    finally:
        server.send_signal(signal.SIGINT)
        out, err = server.communicate(timeout=30)
    printed = out + err + "".join(lines)
    assert key not in printed
    assert PLANTED not in printed and "POST 200" in printed  # the access log: method and status, never the path


def test_the_api_key_file_is_made_once_private_and_then_reused(tmp_path: Path) -> None:
    key_file = tmp_path / "secrets" / "ingest_api_key"
    key, origin = local_api_key(key_file, {})
    assert origin == str(key_file) and len(key) >= 32
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert local_api_key(key_file, {}) == (key, str(key_file))
    assert local_api_key(key_file, {"TAGLAKE_API_KEY": "from-env"})[0] == "from-env"


def test_serve_refuses_a_non_loopback_address_and_a_missing_lake_in_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "TAGLAKE_API_KEY": "k"}
    lake = _lake(tmp_path)
    refused = run_taglake(["api", "serve", "--host", "0.0.0.0", "--lake-dir", str(lake)], env)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1 and "127.0.0.1" in refused.stderr
    missing = run_taglake(["api", "serve", "--lake-dir", str(tmp_path / "none")], env)
    assert missing.returncode == 2 and "taglake generate" in missing.stderr
