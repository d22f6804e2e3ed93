"""Schema versions at the API: only live versions are accepted, and a record of an older live version is written
in the table's current version (its own moto harness: the registry is a private copy)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from ingest_harness import ingest_harness
from ingest_records import app_event

from taglake.ingest import registry

pytestmark = [pytest.mark.api, pytest.mark.schema_registry]

APP_EVENTS = "/ingest/digital/app_events"


def test_an_older_live_version_is_accepted_and_written_in_the_current_one(tmp_path: Path) -> None:
    """v2 drops `page` (breaking, with its note) and v1 stays live: a v1 record lands without it, and a v1 record
    that still carries a page is told to move to the current version."""
    reg = tmp_path / "schemas"
    shutil.copytree(registry.default_registry_dir(), reg)
    v2 = registry.read_version("digital.app_events", 1)
    del v2["properties"]["page"]
    (reg / "digital" / "app_events" / "v2.json").write_text(json.dumps(v2), encoding="utf-8")
    index = registry.read_index(reg)
    index["tables"]["digital.app_events"].update(
        current=2, live=[1, 2], versions={"1": {"change": "initial"}, "2": {"change": "breaking", "migration": "x"}}
    )
    (reg / "index.json").write_text(json.dumps(index), encoding="utf-8")
    v1 = {"x-taglake-schema-version": "1"}
    with ingest_harness(registry_dir=reg) as api:
        assert api.post(APP_EVENTS, [app_event()])[1]["rejected"][0]["reasons"] == [
            "the record holds a field the schema does not declare (its name is not repeated)"
        ]
        status, answer = api.post(APP_EVENTS, [app_event(page="/cards")], headers=v1)
        assert status == 207 and answer["rejected"][0]["reasons"][0].startswith("page: no longer in the table's")
        status, answer = api.post(APP_EVENTS, [app_event(page=None)], headers=v1)
        assert status == 200 and answer["schema_version"] == 1
        [key] = api.keys()
        assert "page" not in json.loads(api.read(key))
