"""The build benchmark: the raw readers taken from dbt's manifest, the read-everything pass, the lake copy, the goals
judged on medians, which run folders stay (`--keep`), and one small build with two appended days, its folder kept.
The daily benchmark's builds run in test_bench_daily.py (the same run on the lake itself)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from taglake.bench.build import (
    GOAL_FULL_OVER_READ,
    copy_lake,
    format_build_report,
    raw_read_locations,
    read_everything,
    run_build_benchmark,
    summarize,
)
from taglake.bench.masking_build import statement_seconds
from taglake.cli import main
from taglake.core.project import Project
from taglake.core.sources import source_tables
from taglake.lake.generate import generate_lake


@pytest.mark.dbt
def test_read_everything_reads_every_raw_row_of_every_lake_table_through_the_builds_readers(
    built_project: Project, built_manifest: dict
) -> None:
    locations = raw_read_locations(built_project.target_path / "manifest.json")
    lake_tables = {name for name, t in source_tables().items() if not t.restricted}
    assert set(locations) == lake_tables
    assert all(str(built_project.lake_dir) in location for location in locations.values())
    read = read_everything(locations)
    assert {name: t["rows"] for name, t in read["tables"].items()} == {
        name: built_manifest["tables"][name]["rows"] for name in lake_tables
    }
    assert read["seconds"] >= sum(t["seconds"] for t in read["tables"].values())


def test_a_copied_lake_gains_files_without_touching_the_original(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    (lake / "raw" / "t").mkdir(parents=True)
    (lake / "raw" / "t" / "a.csv").write_text("x\n1\n", encoding="utf-8")
    (lake / "manifest.json").write_text('{"params": {"last_date": "2026-10-31"}}', encoding="utf-8")
    copy = copy_lake(lake, tmp_path / "copy")
    (copy / "manifest.json").write_text('{"params": {"last_date": "2026-11-01"}}', encoding="utf-8")
    (copy / "raw" / "t" / "b.csv").write_text("x\n2\n", encoding="utf-8")
    assert json.loads((lake / "manifest.json").read_text(encoding="utf-8"))["params"]["last_date"] == "2026-10-31"
    assert sorted(p.name for p in (lake / "raw" / "t").iterdir()) == ["a.csv"]
    assert (copy / "raw" / "t" / "a.csv").stat().st_ino == (lake / "raw" / "t" / "a.csv").stat().st_ino


def _run(full: float, read: float, incremental: float, creates: float) -> dict:
    def build(wall: float) -> dict:
        parts = {"creates": creates, "tests": 1.0, "guard": 1.0, "other statements": 0.5, "dbt overhead": 2.0}
        top = [{"model": "stg_x", "create_seconds": 2.0, "guard_seconds": 0.5, "other_seconds": 4.0}]
        return {
            "wall_seconds": wall,
            "cpu_seconds": wall * 1.5,
            "peak_rss_bytes": 2**30,
            "breakdown": {
                "node_seconds": sum(parts.values()),
                "parts": parts,
                "top_models": top,
                "top_tests": [{"test": "unique_stg_x_id", "seconds": 3.25}],
                "statements_at_once": {"0": 1.25, "1": 2.5, "2": 10.0},
            },
        }

    plain = full / 2
    return {
        "full_build": build(full),
        "incremental_build": build(incremental),
        "read_everything": {"seconds": read, "tables": {}},
        "plain_script": {
            "wall_seconds": plain,
            "cpu_seconds": plain * 1.5,
            "peak_rss_bytes": 2**29,
            "statements": 9,
            "tables": {"same": ["s.a", "s.b"], "differ": [], "left_out": ["s.history"]},
        },
        "full_over_read": full / read,
        "full_over_plain": full / plain,
        "incremental_share_of_full": incremental / full,
    }


def test_appended_days_are_reported_per_day_with_the_ordinary_days_median_share() -> None:
    runs = [_run(100.0, 5.0, 14.0, 50.0), _run(100.0, 5.0, 12.0, 50.0)]
    for run, ordinary in zip(runs, ((9.0, 11.0), (8.0, 12.5)), strict=True):
        run["daily_runs"] = [
            {
                "date": "2026-11-01",
                "kind": "ml.model_scores lands",
                "wall_seconds": 14.0,
                "cpu_seconds": 20.0,
                "share_of_full": 0.14,
            },
            *[
                {
                    "date": f"2026-11-0{i + 2}",
                    "kind": "ordinary",
                    "wall_seconds": w,
                    "cpu_seconds": w * 1.5,
                    "share_of_full": w / 100.0,
                }
                for i, w in enumerate(ordinary)
            ],
        ]
    summary = summarize(runs)
    assert [d["date"] for d in summary["daily_runs"]] == ["2026-11-01", "2026-11-02", "2026-11-03"]
    assert summary["daily_runs"][1]["wall_seconds"] == 8.5 and summary["daily_runs"][2]["wall_seconds"] == 11.75
    # the median of every ordinary day of every run: 8, 9, 11, 12.5
    assert summary["ordinary_day_share_of_full"] == pytest.approx(0.10)
    report = format_build_report({"lake": {"path": "/lake"}, "runs": runs, "summary": summary})
    assert "appended days, built one after another" in report and "ml.model_scores lands" in report
    assert "ordinary day (no sparse feed in its window; median) ≤ 10 % of full: 10.0 %, met" in report
    # one day, as before: no table of days, no ordinary-day line
    single = summarize([_run(100.0, 5.0, 14.0, 50.0)])
    assert single["ordinary_day_share_of_full"] is None and single["daily_runs"] == []
    assert "ordinary day" not in format_build_report({"lake": {"path": "/l"}, "runs": runs[:1], "summary": single})


def test_goals_are_judged_on_the_medians_of_the_runs() -> None:
    runs = [_run(100.0, 5.0, 5.0, 50.0), _run(120.0, 4.0, 30.0, 70.0), _run(110.0, 5.0, 8.0, 60.0)]
    summary = summarize(runs)
    assert summary["full_wall_seconds"] == 110.0 and summary["read_everything_seconds"] == 5.0
    assert summary["full_over_read"] == 22.0 and summary["full_over_read"] <= GOAL_FULL_OVER_READ
    assert summary["goals"] == {
        "full_over_read_within_goal": True,
        "full_over_plain_within_goal": False,  # every fake run's plain script takes half its full build
        "incremental_share_within_goal": True,
    }
    assert summary["plain_wall_seconds"] == 55.0 and summary["full_over_plain"] == 2.0
    assert summary["full_breakdown"]["creates"] == 60.0
    slow = summarize([_run(300.0, 5.0, 60.0, 50.0)])
    assert not any(slow["goals"].values())
    for run in runs:
        run["full_over_plain"] = 1.4
    assert summarize(runs)["goals"]["full_over_plain_within_goal"] is True
    report = format_build_report({"lake": {"path": "/lake"}, "runs": runs, "summary": summary})
    assert "full build ≤ 27× read-everything: 22.0×, met" in report
    assert "full build ≤ 1.5× the plain script: 2.00×, NOT met" in report
    assert "9 writing statements" in report and "2 tables the same as the build's, 1 left out" in report
    assert "DIFFERENT" not in report
    assert "one-day run ≤ 10 % of full: 7.3 %, met" in report
    assert "dbt overhead" in report
    assert "one-day run, where node time went" in report and "full build, where node time went" in report
    assert "one-day run, slowest models (last run; create + guard + other statements): stg_x 6.5 s" in report
    assert "one-day run, slowest tests (last run): unique_stg_x_id 3.2 s" in report
    assert (
        "full build, statements running from its first node on (last run, 13.8 s): 2 at once 10.0 s, "
        "1 at once 2.5 s, none 1.2 s" in report
    )


# dbt's debug log as dbt 1.11 writes it: a statement announced on a thread, then its status on the same thread.
DEBUG_LOG = """\
\x1b[0m11:00:03.880987 [debug] [Thread-1 (]: On model.taglake.stg_x: /* {"app": "dbt"} */
create table "db"."s"."stg_x__dbt_tmp" as (select 1)
\x1b[0m11:00:04.880987 [debug] [Thread-2 (]: On model.taglake.stg_y: /* {"app": "dbt"} */
    create temporary table "stg_y__dbt_tmp20261204" as (select 2)
\x1b[0m11:00:05.000000 [debug] [Thread-1 (]: SQL status: OK in 1.500 seconds
\x1b[0m11:00:05.100000 [debug] [Thread-2 (]: SQL status: OK in 2.250 seconds
\x1b[0m11:00:05.200000 [debug] [Thread-2 (]: On model.taglake.stg_y: delete from "db"."s"."stg_y" where id in (1)
\x1b[0m11:00:05.300000 [debug] [Thread-2 (]: SQL status: OK in 0.750 seconds
\x1b[0m11:00:05.400000 [debug] [Thread-1 (]: On snapshot.taglake.snap_z: /* {"app": "dbt"} */
    create temporary table "snap_z__dbt_tmp2026__closing" as select 1;
    insert into "db"."snapshots"."snap_z" select 1;
    update "db"."snapshots"."snap_z" set x = 1
\x1b[0m11:00:05.500000 [debug] [Thread-1 (]: SQL status: OK in 4.000 seconds
\x1b[0m11:00:05.510000 [debug] [Thread-2 (]: On snapshot.taglake.snap_w: /* {"app": "dbt"} */
    create table "db"."snapshots"."snap_w" as (select 1)
\x1b[0m11:00:05.520000 [debug] [Thread-2 (]: SQL status: OK in 0.500 seconds
\x1b[0m11:00:05.600000 [debug] [Thread-1 (]: On model.taglake.stg_x: select count(*) from (select 1) as sampled
\x1b[0m11:00:05.700000 [debug] [Thread-1 (]: SQL status: OK in 0.125 seconds
"""


def test_statements_are_counted_per_model_and_snapshot_with_an_incremental_runs_temporary_create_a_create(
    tmp_path: Path,
) -> None:
    log = tmp_path / "dbt.log"
    log.write_text(DEBUG_LOG, encoding="utf-8")
    assert statement_seconds(log) == {
        "stg_x": {"create": 1.5, "guard": 0.125, "other": 0.0},
        "stg_y": {"create": 2.25, "guard": 0.0, "other": 0.75},
        "snap_z": {"create": 0.0, "guard": 0.0, "other": 4.0},
        "snap_w": {"create": 0.5, "guard": 0.0, "other": 0.0},
    }


@pytest.mark.dbt
def test_the_build_benchmark_builds_appended_days_one_after_another_and_says_what_each_window_reads(
    tmp_path: Path,
) -> None:
    lake = tmp_path / "lake"
    generate_lake(lake, customers=150, days=4, seed=5, progress=False)  # ends 2026-10-31: the next day scores
    result = run_build_benchmark(
        Project.locate(),
        lake_dir=lake,
        runs=1,
        work_dir=tmp_path / "work",
        out_json=tmp_path / "b.json",
        days=2,
        keep=True,
    )
    (run,) = result["runs"]
    # the plain script: the full build's own writing statements, every table it wrote the same as the build's but
    # the quality history, which the run's on-run-end hook fills
    plain = run["plain_script"]
    assert plain["tables"]["differ"] == [] and len(plain["tables"]["same"]) > 40
    assert plain["tables"]["left_out"] == ["taglake_marts.fct_quality_check_results"]
    assert run["full_over_plain"] == pytest.approx(run["full_build"]["wall_seconds"] / plain["wall_seconds"])
    assert 0 < run["full_build"]["breakdown"]["before_first_node_seconds"] < run["full_build"]["wall_seconds"]
    # from the first node on, the statements running at once: the two threads' spans add up to that time
    at_once = run["full_build"]["breakdown"]["statements_at_once"]
    assert set(at_once) <= {"0", "1", "2"} and at_once.get("1", 0) > 0
    from_first_node = run["full_build"]["wall_seconds"] - run["full_build"]["breakdown"]["before_first_node_seconds"]
    assert sum(at_once.values()) == pytest.approx(from_first_node, abs=1.0)
    # --keep: the run's folder stays for profiling, with its database and each build's dbt log and output
    kept = tmp_path / "work" / "build-run1"
    assert result["kept_folder"] == str(kept.resolve())
    for name in ("taglake.duckdb", "full_build.dbt.log", "full_build.out", "incremental_build.out", "day2.dbt.log"):
        assert (kept / name).is_file(), name
    assert str(kept.resolve()) in format_build_report(result)
    assert "the plain script:" in format_build_report(result) and "before the first node" in format_build_report(result)
    first, second = run["daily_runs"]
    assert (first["date"], second["date"]) == ("2026-11-01", "2026-11-02")
    # the lake ends on October 31st: the scores land on November 1st; on the 2nd the lookback still holds that
    # partition, but the raw file ledger (kept as taglake run-daily keeps it) knows it unchanged: not read again
    assert first["kind"].startswith("ml.model_scores lands") and second["kind"] == "ordinary"
    scores = (
        kept / "target" / "compiled" / "taglake" / "models" / "staging" / "ml" / "base" / "base_ml__model_scores.sql"
    )
    assert "(year > 2026 or (year = 2026 and (month > 11 or (month = 11 and day >= 2))))" in scores.read_text()
    assert all(day["ledger_seconds"] >= 0 for day in (first, second))
    assert not list(lake.glob("raw/ml/model_scores/**/*20261101*")), "the lake given is left as it is"
    for day in (first, second):
        assert day["wall_seconds"] > 0 and day["cpu_seconds"] > 0 and day["peak_rss_bytes"] > 0
        assert day["share_of_full"] == pytest.approx(day["wall_seconds"] / run["full_build"]["wall_seconds"])
    assert run["incremental_build"]["wall_seconds"] == first["wall_seconds"]
    assert run["incremental_share_of_full"] == first["share_of_full"]
    assert [d["date"] for d in result["summary"]["daily_runs"]] == ["2026-11-01", "2026-11-02"]
    report = format_build_report(result)
    assert "appended days, built one after another" in report and "ml.model_scores lands" in report
    with pytest.raises(ValueError, match="--days"):
        run_build_benchmark(
            Project.locate(), lake_dir=lake, runs=1, work_dir=tmp_path / "w2", out_json=tmp_path / "c.json", days=0
        )


def _stub_lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder the build benchmark takes for a generated lake (its manifest), for tests that replace the build."""
    lake = tmp_path / "lake"
    lake.mkdir()
    (lake / "manifest.json").write_text("{}", encoding="utf-8")
    monkeypatch.setattr("taglake.bench.build.lake_description", lambda _lake: {"path": str(_lake)})
    return lake


def test_run_folders_are_deleted_after_measuring_unless_the_last_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The folder policy alone: the build step is replaced by one that leaves a file in its folder and returns the
    figures of a run (the real build is measured in the test above)."""
    lake = _stub_lake(tmp_path, monkeypatch)

    def fake_run(_project: Project, _lake: Path, folder: Path, **_kw: object) -> dict:
        folder.mkdir(parents=True)
        (folder / "taglake.duckdb").write_bytes(b"")
        return _run(100.0, 5.0, 9.0, 50.0)

    monkeypatch.setattr("taglake.bench.build.bench_run", fake_run)
    for keep, left in ((False, []), (True, ["build-run3"])):
        work = tmp_path / f"work-{keep}"
        result = run_build_benchmark(
            Project.locate(), lake_dir=lake, runs=3, work_dir=work, out_json=tmp_path / "r.json", keep=keep
        )
        assert sorted(p.name for p in work.iterdir()) == left
        assert result["kept_folder"] == (str((work / "build-run3").resolve()) if keep else None)
        assert ("is kept" in format_build_report(result)) is keep


def test_keep_is_refused_for_a_benchmark_without_a_build_folder(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "masking", "--keep"]) != 0
    out = capsys.readouterr()
    assert "--keep: only for bench build (not masking)" in out.err
    assert "Traceback" not in out.err + out.out


def test_no_plain_and_no_athena_leave_the_plain_script_and_the_athena_estimate_out_of_each_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """What `taglake bench build --no-plain --no-athena` asks of each run (the real run is measured in the dbt test
    above, where both are in), and a report without the plain script's row and ratio."""
    lake = _stub_lake(tmp_path, monkeypatch)
    asked: list[dict] = []

    def fake_run(_project: Project, _lake: Path, folder: Path, **kw: object) -> dict:
        asked.append(kw)
        run = _run(100.0, 5.0, 9.0, 50.0)
        if not kw["plain"]:
            del run["plain_script"], run["full_over_plain"]
        return run

    monkeypatch.setattr("taglake.bench.build.bench_run", fake_run)
    base = ["bench", "build", "--lake", str(lake), "--runs", "1", "--work-dir", str(tmp_path / "w")]
    assert main([*base, "--out", str(tmp_path / "a.json")]) == 0
    assert main([*base, "--no-plain", "--no-athena", "--out", str(tmp_path / "b.json")]) == 0
    assert [(kw["plain"], kw["athena_scales"]) for kw in asked] == [(True, ["lake", "large"]), (False, None)]
    with_plain, without = capsys.readouterr().out.split("1 run(s), medians")[1:]
    assert "plain script" in with_plain and "the plain script:" in with_plain
    assert "plain script" not in without and "read-everything: 20" in without
    assert main(["bench", "retrieval", "--no-plain"]) != 0
    assert "--no-plain: only for bench build (not retrieval)" in capsys.readouterr().err
