"""The DAG's cache-refresh step: its command line per target (dags/taglake_ops/commands.py) is one the taglake CLI
accepts, and the table it names on AWS is the retrieval stack's."""

from __future__ import annotations

from pathlib import Path

import pytest

from taglake import cli
from taglake.infra.retrieval import TABLE_NAME

pytestmark = pytest.mark.retrieval


def test_the_refresh_reads_athena_into_the_stacks_table_on_aws_and_dry_runs_locally(commands) -> None:  # type: ignore[no-untyped-def]
    taglake = Path("/venv/bin/taglake")
    on_aws = commands.refresh_tag_cache(taglake, "athena", "prod")
    assert on_aws == [str(taglake), "serve", "refresh-cache", "--table", "taglake-prod-tag-cache", "--from-athena"]
    assert TABLE_NAME.replace("${Environment}", "prod") == "taglake-prod-tag-cache"
    assert commands.refresh_tag_cache(taglake, "athena", "prod", "other-table")[4] == "other-table"
    assert commands.refresh_tag_cache(taglake, "local", "dev") == [str(taglake), "serve", "refresh-cache", "--moto"]
    assert commands.refresh_tag_cache(taglake, "redshift", "prod") is None
    # each line parses as the CLI's own arguments (a renamed flag would fail here, not in the night's run)
    parser = cli.build_parser()
    for argv in (on_aws, commands.refresh_tag_cache(taglake, "local", "dev")):
        ns = parser.parse_args(argv[1:])
        assert ns.func.__name__ == "cmd_refresh_cache"
