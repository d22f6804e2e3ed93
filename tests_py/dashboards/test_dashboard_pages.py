"""Each dashboard page's logic through Streamlit's AppTest, against the session's built lake (`built_project`)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from taglake.core.project import Project
from taglake.ops import dashboard as dash

pytestmark = [pytest.mark.dashboard, pytest.mark.dbt]

PAGES = Path(__file__).resolve().parents[2] / "dashboards" / "views"
K = dash.SMALL_COUNT_THRESHOLD


@pytest.fixture(autouse=True)
def main_module_restored() -> Iterator[None]:
    """AppTest installs the page as `sys.modules["__main__"]` and leaves it there. A later process pool started
    with spawn (the offline compile's sqlfluff pool) re-runs `__main__`'s file in each child: it would run the page."""
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


@pytest.fixture
def on_built_lake(built_project: Project, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    monkeypatch.setenv(dash.ENV_DATABASE, str(built_project.duckdb_path))
    monkeypatch.setenv(dash.ENV_ARTIFACTS, str(built_project.target_path.parent))
    monkeypatch.setenv(dash.ENV_TTL, "0")
    yield built_project


def _page(name: str) -> AppTest:
    app = AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=120)
    app.run()
    assert not app.exception, [e.message for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    return app


def test_tag_page_drills_down_to_suppressed_aggregate_counts(on_built_lake: Project) -> None:
    app = _page("tags")
    [code] = app.multiselect(key="tag").value  # the default: the largest tag
    app.selectbox(key="dimension").set_value("city").run()
    assert not app.exception and not app.error
    drill = app.table[0].value
    assert list(drill.columns) == ["tag_code", "city", "tagged_customer_count"]
    with duckdb.connect(str(on_built_lake.duckdb_path), read_only=True) as con:
        [day] = con.execute("select max(as_of_date) from taglake_marts.agg_tag_population_daily").fetchone()
        truth = dict(
            con.execute(
                "select city, sum(tagged_customer_count) from taglake_marts.agg_tag_population_daily "
                "where as_of_date = ? and tag_code = ? group by city",
                [day, code],
            ).fetchall()
        )
    shown = dict(zip(drill["city"], drill["tagged_customer_count"], strict=True))
    assert shown == {city: (f"<{K}" if n < K else str(n)) for city, n in truth.items()}
    assert f"<{K}" in shown.values(), "the small lake has small cells: suppression must show"


def test_tag_page_filters_by_segment_value(on_built_lake: Project) -> None:
    app = _page("tags")
    app.selectbox(key="dimension").set_value("risk_grade").run()
    grade = app.multiselect(key="segment").options[0]
    app.multiselect(key="segment").set_value([grade]).run()
    assert not app.exception and not app.error
    assert set(app.table[0].value["risk_grade"]) <= {grade}


def test_quality_page_shows_pass_rates_freshness_and_reconciliation(on_built_lake: Project) -> None:
    app = _page("quality")
    headers = [h.value for h in app.subheader]
    assert headers == ["Pass rates", "Quarantine rates", "Freshness", "Reconciliation"]
    by_dimension, by_source, freshness, reconciliation = (d.value for d in app.table)
    assert by_dimension["pass_rate"].between(0, 1).all() and len(by_dimension) > 1
    assert {"accuracy", "completeness"} & set(by_dimension["Quality dimension"])
    assert by_source["checks"].sum() == by_dimension["checks"].sum()
    assert (freshness["days_behind_newest_feed"] >= 0).all()
    assert reconciliation["balanced"].all()
    source = app.multiselect(key="source").options[0]
    app.multiselect(key="source").set_value([source]).run()
    assert list(app.table[1].value["Source"]) == [source]


def test_model_history_page_shows_drift_and_performance_against_outcomes(on_built_lake: Project) -> None:
    app = _page("models")
    drift = app.table[0].value
    assert {"psi", "drift_level", "score_count"} <= set(drift.columns)
    assert all(v == f"<{K}" or int(v) >= K for v in drift["score_count"])
    months = app.selectbox(key="month").options
    app.selectbox(key="month").set_value(months[0]).run()
    assert not app.exception and not app.error
    assert [h.value for h in app.subheader][-1] == "Performance against outcomes"
    assert not any("Not yet" in i.value for i in app.info)
    version = app.selectbox(key="version").options[-1]
    app.selectbox(key="version").set_value(version).run()
    assert not app.exception and not app.error
    performance = app.table[1].value
    name = version.rsplit(" ", 1)[0]
    with duckdb.connect(str(on_built_lake.duckdb_path), read_only=True) as con:
        truth = con.execute(
            "select model_version, customer_count, positive_count, auc, top_decile_lift "
            "from taglake_marts.agg_model_performance_monthly where model_name = ? "
            "order by outcome_month, model_version",
            [name],
        ).fetchall()
    assert truth, "the built lake has outcomes"
    columns = ("model_version", "customer_count", "positive_count", "auc")
    shown = list(zip(*(performance[c] for c in columns), strict=True))

    def shown_as(n: float, ok: bool) -> str:
        return str(n) if ok else f"<{K}"

    assert shown == [
        (v, shown_as(n, n >= K), shown_as(p, p >= K), shown_as(round(a, 3), min(p, n - p) >= K))
        for v, n, p, a, _ in truth
    ]
    assert all(0.5 < a < 1 for *_, a, _ in truth)


def test_cost_page_says_none_reported_on_duckdb(on_built_lake: Project) -> None:
    app = _page("cost")
    assert [i.value.split(":")[0] for i in app.info] == ["None reported", "None reported"]


def test_a_missing_build_is_one_error_line_not_a_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(dash.ENV_DATABASE, str(tmp_path / "none.duckdb"))
    app = AppTest.from_file(str(PAGES / "tags.py"), default_timeout=60)
    app.run()
    assert not app.exception
    assert len(app.error) == 1 and "taglake build" in app.error[0].value
