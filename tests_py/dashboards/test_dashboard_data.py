"""The dashboards' data-access layer (taglake.ops.dashboard): fixed queries over consumption relations only, the
configuration by environment or flags, and small-count suppression."""

from __future__ import annotations

import pytest

from taglake.core.errors import TaglakeError
from taglake.core.project import Project
from taglake.ops import dashboard as dash
from taglake.ops.sql_policy import check_athena_sql

pytestmark = pytest.mark.dashboard


def test_counts_below_the_threshold_and_their_shares_are_suppressed() -> None:
    k = dash.SMALL_COUNT_THRESHOLD
    rows = dash.suppressed_rows(
        [
            {"city": "A", "tagged_customer_count": k - 1, "tagged_share": 0.5},
            {"city": "B", "tagged_customer_count": k, "tagged_share": 0.25},
            {"city": "C", "tagged_customer_count": 0, "tagged_share": 0.0},
            {"model": "m", "score_count": 1, "score_share": 0.01, "customer_count": 1},
        ]
    )
    assert rows[0] == {"city": "A", "tagged_customer_count": f"<{k}", "tagged_share": f"<{k}"}
    assert rows[1] == {"city": "B", "tagged_customer_count": k, "tagged_share": 0.25}
    assert rows[2]["tagged_customer_count"] == f"<{k}"
    assert rows[3] == {"model": "m", "score_count": f"<{k}", "score_share": f"<{k}", "customer_count": f"<{k}"}


def test_performance_measures_over_a_small_count_are_suppressed_with_it() -> None:
    k = dash.SMALL_COUNT_THRESHOLD
    big = {"customer_count": 500, "positive_count": 100, "negative_count": 400, "top_decile_count": 50}
    rows = dash.suppressed_rows(
        [
            {**big, "top_decile_positive_count": 20, "positive_rate": 0.2, "auc": 0.7, "top_decile_lift": 2.0},
            {**big, "top_decile_positive_count": k - 1, "positive_rate": 0.2, "auc": 0.7, "top_decile_lift": 0.9},
            {**big, "positive_count": k - 1, "negative_count": 491, "top_decile_positive_count": 5,
             "positive_rate": 0.018, "auc": 0.8, "top_decile_lift": 5.4},
            {**big, "positive_count": 495, "negative_count": k - 5, "top_decile_positive_count": 50,
             "positive_rate": 0.99, "auc": 0.6, "top_decile_lift": 1.01},
        ]
    )  # fmt: skip
    assert (rows[0]["auc"], rows[0]["top_decile_lift"], rows[0]["positive_rate"]) == (0.7, 2.0, 0.2)
    assert (rows[1]["auc"], rows[1]["top_decile_lift"], rows[1]["top_decile_positive_count"]) == (0.7, f"<{k}", f"<{k}")
    assert {rows[2][c] for c in ("positive_count", "positive_rate", "auc", "top_decile_lift")} == {f"<{k}"}
    assert {rows[3][c] for c in ("negative_count", "positive_rate", "auc", "top_decile_lift")} == {f"<{k}"}


def test_configuration_comes_from_flags_over_the_environment() -> None:
    env = {dash.ENV_DATABASE: "/env/db.duckdb", dash.ENV_TTL: "30"}
    config = dash.DashboardConfig.from_args(["--database", "/flag/db.duckdb"], env)
    assert (config.target, config.database, config.ttl_seconds) == ("local", "/flag/db.duckdb", 30)
    assert dash.DashboardConfig.from_args([], env).database == "/env/db.duckdb"
    assert dash.DashboardConfig.from_args(["--target", "athena"], {}).engine == "athena"


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--target", "local_system"], "system account"),
        (["--target", "athena_system"], "system account"),
        (["--target", "redshift"], "local (DuckDB) or an athena target"),
        (["--target", "nowhere"], "nowhere"),
        (["--ttl-seconds", "soon"], "--ttl-seconds"),
        (["--ttl-seconds", "-1"], "--ttl-seconds"),
    ],
)
def test_a_configuration_the_dashboards_cannot_use_is_refused_by_name(argv: list[str], named: str) -> None:
    with pytest.raises(TaglakeError) as refused:
        dash.DashboardConfig.from_args(argv, {})
    assert named in str(refused.value)


def test_a_page_can_only_name_a_fixed_query() -> None:
    config = dash.DashboardConfig()
    with pytest.raises(dash.DashboardError, match="no dashboard query named"):
        dash.query_sql(config, "select * from raw_crm.customers")


def test_every_fixed_query_reads_only_consumption_relations_on_athena(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAGLAKE_ATHENA_SCHEMA", "taglake")
    config = dash.DashboardConfig(target="athena")
    root = Project.locate().root
    for name in dash.QUERIES:
        sql = dash.query_sql(config, name)
        assert '"taglake_marts"' in sql or '"taglake_reference"' in sql, name
        check_athena_sql(sql, "taglake", root)  # the policy `taglake query` enforces for analysts


def test_no_fixed_query_selects_a_customer_token() -> None:
    assert not [name for name, sql in dash.QUERIES.items() if "customer_token" in sql or "select *" in sql]
