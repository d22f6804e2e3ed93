"""dbt's debug log read back: statements in start order with their seconds, on their connections, and the time from
the first node to the end of the run."""

from __future__ import annotations

from pathlib import Path

import pytest

from taglake.bench.dbt_log import logged_statements, seconds_from_first_node, statements_at_once

# dbt 1.11's debug log: statements on two threads, a SQL text over several lines, a node's Close without a status
# followed on the same thread by a test's statements, a versioned model, a seed's COPY ended by "...", a hook.
LOG = """\
\x1b[0m23:59:58.000000 [info ] [MainThread]: Running with dbt=1.11.16
\x1b[0m23:59:59.500000 [info ] [MainThread]: 1 of 1 START hook: taglake.on-run-start.0 ............ [RUN]
\x1b[0m23:59:59.600000 [debug] [Thread-1 (]: On model.taglake.stg_x: create table "db"."s"."stg_x" as (
    select 1 as id
)
\x1b[0m23:59:59.700000 [debug] [Thread-2 (]: On model.taglake.tag_profile.v1: create table "db"."s"."p_v1" as (select 2)
\x1b[0m00:00:01.000000 [debug] [Thread-1 (]: SQL status: OK in 1.400 seconds
\x1b[0m00:00:01.100000 [debug] [Thread-1 (]: On model.taglake.stg_x: Close
\x1b[0m00:00:01.200000 [debug] [Thread-1 (]: On test.taglake.unique_stg_x_id.abc123: select count(*) from "s"."stg_x"
\x1b[0m00:00:01.300000 [debug] [Thread-2 (]: SQL status: OK in 1.600 seconds
\x1b[0m00:00:01.400000 [debug] [Thread-1 (]: SQL status: OK in 0.200 seconds
\x1b[0m00:00:01.500000 [debug] [Thread-2 (]: On seed.taglake.ref_y: {BLANK}
          COPY "db"."r"."ref_y" FROM '/seeds/ref_y.csv' (FORMAT CSV, HEADER TRUE)
        ...
\x1b[0m00:00:01.600000 [debug] [Thread-2 (]: SQL status: OK in 0.050 seconds
\x1b[0m00:00:01.700000 [debug] [MainThread]: On master: insert into "db"."m"."history" values (1)
\x1b[0m00:00:02.000000 [debug] [MainThread]: SQL status: OK in 0.010 seconds
\x1b[0m00:00:02.250000 [debug] [MainThread]: Command `dbt build` succeeded
""".replace("{BLANK}", "")  # dbt writes the SQL of a seed's COPY from the next line on


def test_statements_come_in_start_order_with_their_own_seconds_and_connections(tmp_path: Path) -> None:
    log = tmp_path / "dbt.log"
    log.write_text(LOG, encoding="utf-8")
    statements = logged_statements(log)
    assert [(s.connection, s.seconds) for s in statements] == [
        ("model.taglake.stg_x", 1.4),
        ("model.taglake.tag_profile.v1", 1.6),
        ("test.taglake.unique_stg_x_id.abc123", 0.2),  # not the model's: its Close had no status
        ("seed.taglake.ref_y", 0.05),
        ("master", 0.01),
    ]
    assert statements[0].sql == 'create table "db"."s"."stg_x" as (\n    select 1 as id\n)'
    assert statements[3].sql.strip() == """COPY "db"."r"."ref_y" FROM '/seeds/ref_y.csv' (FORMAT CSV, HEADER TRUE)"""
    assert [s.node_name for s in statements] == ["stg_x", "tag_profile_v1", "unique_stg_x_id", "ref_y", "master"]
    assert [s.resource_type for s in statements] == ["model", "model", "test", "seed", "master"]


def test_the_time_from_the_first_node_runs_to_the_last_message_across_midnight(tmp_path: Path) -> None:
    log = tmp_path / "dbt.log"
    log.write_text(LOG, encoding="utf-8")
    assert seconds_from_first_node(log) == 2.75  # 23:59:59.5 to 00:00:02.25
    log.write_text(LOG.split("1 of 1 START")[0] + "\n", encoding="utf-8")
    assert seconds_from_first_node(log) is None


def test_the_statements_running_at_once_add_up_to_the_time_from_the_first_node(tmp_path: Path) -> None:
    log = tmp_path / "dbt.log"
    log.write_text(LOG, encoding="utf-8")
    # from 23:59:59.5 on: stg_x 23:59:59.6-00:00:01.0, p_v1 23:59:59.7-00:00:01.3, the test 00:00:01.2-01.4, the
    # seed 01.55-01.6, the hook's insert 01.99-02.0, the end 02.25
    at_once = statements_at_once(log)
    assert at_once is not None
    assert at_once == pytest.approx({0: 0.1 + 0.15 + 0.39 + 0.25, 1: 0.1 + 0.2 + 0.1 + 0.05 + 0.01, 2: 1.3 + 0.1})
    assert sum(at_once.values()) == pytest.approx(seconds_from_first_node(log))
    log.write_text(LOG.split("1 of 1 START")[0] + "\n", encoding="utf-8")
    assert statements_at_once(log) is None
