"""Hostile requests to the tag retrieval Lambda: a national ID, a mobile number, an e-mail, a name or a birth date
in any spelling — in the path where the token goes, in the batch body, in headers — is refused (400) or not routed
(404), never answered with data, and never comes back in an answer, a log line (Powertools' structured log, the
captured logging tree at DEBUG), a metric (EMF on stdout) or stderr."""

from __future__ import annotations

import io
import json
import logging
import unicodedata
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from aws_lambda_powertools import Logger
from serve_harness import api_over

from taglake.bench.retrieval import CONSUMPTION_LAYERS, write_synthetic_store
from taglake.lake.national_id import checksum_digit
from taglake.privacy.patterns import find
from taglake.serve.store import DuckDBTagStore

pytestmark = [pytest.mark.retrieval, pytest.mark.redteam]

PLANTED_ID = f"K24681357{checksum_digit('K', '24681357')}"
PLANTED_MOBILE = "0987654321"
PLANTED_EMAIL = "victim.person@bank-customer.example"
PLANTED_NAME = "王小明"
PLANTED_BIRTH = "1985-03-07"
FULLWIDTH = str.maketrans({c: chr(ord(c) + 0xFEE0) for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"})


def _id_spellings() -> list[str]:
    nid = PLANTED_ID
    return [
        nid,
        nid.lower(),
        nid.translate(FULLWIDTH),
        f" {nid} ",
        f"{nid[0]} {nid[1:5]} {nid[5:]}",
        f"{nid[0]}-{nid[1:5]}-{nid[5:]}",
        f"ID:{nid}",
        nid + "0" * 54,  # the token's length, not its shape
        nid.lower() + "a" * 54,
    ]


def _other_spellings() -> list[str]:
    return [
        PLANTED_MOBILE,
        "+886987654321",
        "+886-987-654-321",
        "0987-654-321",
        PLANTED_MOBILE.translate(FULLWIDTH),
        PLANTED_EMAIL,
        PLANTED_EMAIL.upper(),
        PLANTED_NAME,
        PLANTED_BIRTH,
        "' or 1=1 --",
    ]


def _needles() -> list[str]:
    """What must never come back, as written and folded (NFKC, case)."""
    found = [PLANTED_ID, PLANTED_ID[1:], PLANTED_MOBILE, PLANTED_MOBILE[1:], "987654321", PLANTED_EMAIL,
             "victim.person", PLANTED_NAME, PLANTED_BIRTH]  # fmt: skip
    return found


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DuckDBTagStore, str]]:
    """A small store laid out as a build's consumption layer (the benchmark's synthetic customers), and one
    known token."""
    database = tmp_path_factory.mktemp("redteam_store") / "tags.duckdb"
    _, tokens = write_synthetic_store(database, Path(__file__).parents[2] / "seeds" / "tag_catalog.csv", 50, 1)
    with DuckDBTagStore(database, CONSUMPTION_LAYERS) as opened:
        yield opened, tokens[0]


def test_clear_identifiers_in_path_body_and_headers_are_refused_and_never_leave(
    served: tuple[DuckDBTagStore, str],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    store, token = served
    log_lines = io.StringIO()
    api = api_over(store, Logger(service=f"taglake-tags-redteam-{uuid.uuid4().hex}", stream=log_lines))
    answers: list[str] = []

    def ask(method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> int:
        status, answer = api.call(method, path, None, raw=body, headers=headers)
        answers.append(json.dumps(answer, ensure_ascii=False))
        assert "tags" not in answer and "customers" not in answer, "a hostile request was answered with data"
        return status

    for value in _id_spellings() + _other_spellings():
        # In the path: 400 where it takes the token's place, 404 where it breaks the route; never data.
        assert ask("GET", f"/customers/{value}/tags") in (400, 404), repr(value[:2])
        assert ask("GET", f"/customers/{quote(value, safe='')}/tags") in (400, 404)
        # In the body, alone, among tokens, as the wrong type, as a key, nested, cut short.
        for body in (
            {"customer_tokens": [value]},
            {"customer_tokens": [token, value]},
            {"customer_tokens": value},
            {value: [token]},
            {"customer_tokens": [{"national_id": value}]},
        ):
            assert ask("POST", "/customers/tags/batch", json.dumps(body, ensure_ascii=False).encode()) == 400
        assert ask("POST", "/customers/tags/batch", ('{"customer_tokens": ["' + value).encode()) == 400
        assert ask("POST", "/customers/tags/batch", json.dumps({"customer_tokens": [value] * 101}).encode()) == 413
    # In headers of a valid request: answered (the headers are not read), and not logged.
    status, answer = api.call(
        "GET",
        f"/customers/{token}/tags",
        headers={"x-national-id": PLANTED_ID, "user-agent": PLANTED_EMAIL, "x-customer": PLANTED_NAME},
    )
    assert status == 200 and answer["customer_token"] == token
    printed = capsys.readouterr()
    outputs = {
        "answers": "\n".join(answers),
        "powertools log": log_lines.getvalue(),
        "stdout (EMF metrics)": printed.out,
        "stderr": printed.err,
        "captured log": caplog.text,
    }
    assert '"answered"' in log_lines.getvalue() and '"Refused"' in printed.out  # both outputs were seen
    for where, text in outputs.items():
        folded = unicodedata.normalize("NFKC", text).casefold()
        for needle in _needles():
            assert needle not in text and needle.casefold() not in folded, (where, "a planted value came back")
        assert not find(text), (where, "a personal-data shape came back")
