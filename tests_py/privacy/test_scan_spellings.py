"""`taglake scan-pii` finds a canary in every spelling of the shared corpus, in a relation and in a file, and no
look-alike: its word shapes are taglake.privacy.patterns', the ones the guard and the quarantine use."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from pii_spellings import EMAILS, MOBILES, NATIONAL_IDS, NEGATIVES, positives

from taglake.privacy.scan.db import scan_duckdb
from taglake.privacy.scan.files import scan_files
from taglake.privacy.scan.match import prepare

WORD_KINDS = ("national_id", "mobile", "email")
PLANTED = [p for p in positives() if p.kind in WORD_KINDS]
CANARIES = {"national_id": set(NATIONAL_IDS), "mobile": set(MOBILES), "email": set(EMAILS)}
# IDs that look-alikes hold inside longer words (a hex token, a card reference): never a hit as a canary either.
LOOK_ALIKE_CANARIES = {"national_id": {"A123456789", "C123456789"}, "mobile": {"0912345678"}, "email": set()}


def _db(path: Path, texts: list[str]) -> Path:  # one column, a row per text
    with duckdb.connect(str(path)) as con:
        con.execute("create schema s")
        con.execute("create table s.t (id integer, v varchar)")
        con.executemany("insert into s.t values (?, ?)", list(enumerate(texts)))
    return path


def test_every_spelling_is_found_by_the_relation_and_the_file_scan(tmp_path: Path) -> None:
    for planted in PLANTED:
        assert prepare({planted.kind: [planted.value]}).words, planted.kind  # matched as a word, not a needle
    db = tmp_path / "spellings.duckdb"
    with duckdb.connect(str(db)) as con:  # one column per spelling, so a hit names the spelling
        con.execute("create schema s")
        con.execute(f"create table s.t ({', '.join(f'c{i} varchar' for i in range(len(PLANTED)))})")
        con.execute(f"insert into s.t values ({', '.join('?' for _ in PLANTED)})", [p.text for p in PLANTED])
    text_file = tmp_path / "spellings.txt"
    text_file.write_text("".join(p.text + "\n" for p in PLANTED), encoding="utf-8")
    many = len(PLANTED) + 1
    in_db = {(h.where, h.kind) for h in scan_duckdb(db, CANARIES, hits_per_place=many)}
    in_file = {(h.where, h.kind) for h in scan_files([text_file], CANARIES, hits_per_place=many)}
    for i, planted in enumerate(PLANTED):
        assert (f"relation s.t.c{i}", planted.kind) in in_db, (planted.kind, planted.text)
        assert (f"file {text_file}:{i + 1}", planted.kind) in in_file, (planted.kind, planted.text)
    assert len(in_db) == len(in_file) == len(PLANTED)  # one hit each, of its own kind


@pytest.mark.redteam
def test_no_look_alike_is_a_hit(tmp_path: Path) -> None:
    canaries = {k: sorted(CANARIES[k] | LOOK_ALIKE_CANARIES[k]) for k in WORD_KINDS}
    db = _db(tmp_path / "neg.duckdb", list(NEGATIVES))
    text_file = tmp_path / "neg.txt"
    text_file.write_text("\n".join(NEGATIVES) + "\n", encoding="utf-8")
    assert scan_duckdb(db, canaries) == []
    assert scan_files([text_file], canaries) == []
