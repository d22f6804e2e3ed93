"""No off switch in production code: no var, environment variable or target setting turns tokenisation or the
privacy guard off in a build of the checkout. The benchmark's identity build and the offline compile's fixed
is_incremental() exist only in throwaway copies of the project (taglake.core.scratch)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from project_copy import dbt

from taglake.bench.masking_build import IDENTITY_DROPPED_MACROS, IDENTITY_MACROS
from taglake.core.project import Project
from taglake.core.scratch import ScratchError, scratch_project
from taglake.privacy.keys import init_key

pytestmark = pytest.mark.redteam

# Every var and environment variable the project's SQL, macros and dbt_project.yml read, and why none of them can
# turn masking or the guard off. A new one fails this test until it is added here with its reason.
ALLOWED_VARS = {
    "absurd_amount_twd": "a quality threshold",
    "pii_treatments": "what each class becomes; a class without a treatment fails the compile, 'drop' removes",
    "privacy_guard": "the guard's sample size only; its patterns live in taglake.privacy.patterns",
    "raw_landed_at": "the landing date expression",
    "late_arrival_lookback_days": "the incremental window",
    "run_window_columns": "the daily window's column; a model with none of them is sampled as in a full build",
    "score_bins": "model drift bins",
    "psi_epsilon": "model drift smoothing",
    "as_of": "the date an analysis asks about",
    "reject_reasons": "the quarantine's closed list of reasons, read by its accepted-values test only",
    "access": "who reads what; access_policy() refuses a declaration giving anyone clear data or a restricted layer",
    "quality_dimensions": "the quality dimension of each kind of check, for the quality history only",
    "quarantine_spike": "the quarantine-spike test's thresholds",
    "taglake_run_id": "the run id the quality history records under (its shape checked before it reaches SQL)",
    "taglake_as_of_date": "the as-of date the quality history records (checked as YYYY-MM-DD)",
}
ALLOWED_VAR_PREFIXES = ("tag_",)  # tag thresholds
ALLOWED_ENV_PREFIXES = ("TAGLAKE_REDSHIFT_", "TAGLAKE_ATHENA_", "TAGLAKE_AWS_")  # account settings, grants' groups
ALLOWED_ENV = {
    "TAGLAKE_LAKE_DIR": "where the local lake is",
    "TAGLAKE_KEY_FILE": "where the local key is",
    "TAGLAKE_RUN_WINDOW": (
        "a daily run's landing windows, set by taglake run-daily only (taglake's dbt environment never inherits it): "
        "the guard checks every row of an incremental model's window instead of a sample, and a window that is not "
        "the one the model rewrites stops the model before it writes (landing_window_start)"
    ),
    "TAGLAKE_RUN_CHANGES": (
        "a daily run's changed raw partitions, set by taglake run-daily only (never inherited either): it moves the "
        "start of a model's window, which the model's rewrite and its guard read from the same macro "
        "(window_from_newest), so the guard still checks every row the model writes"
    ),
}
# Vars that switched privacy machinery in earlier versions: each must now be ignored.
OLD_SWITCHES = {"masking_benchmark": "identity", "offline_compile": True, "offline_incremental": True}

_VAR = re.compile(r"""\bvar\(\s*['"]([A-Za-z0-9_]+)['"]""")
_ENV = re.compile(r"""\benv_var\(\s*['"]([A-Za-z0-9_]+)['"]""")


def _production_sql_files(root: Path) -> list[Path]:
    files = [root / "dbt_project.yml"]
    for folder in ("models", "macros", "snapshots", "tests", "seeds", "analyses"):
        files += [p for p in (root / folder).rglob("*") if p.suffix in (".sql", ".yml", ".yaml")]
    return files


def test_production_sql_reads_no_var_or_environment_variable_that_could_turn_privacy_off() -> None:
    root = Project.locate().root
    unexplained = set()
    for path in _production_sql_files(root):
        text = path.read_text(encoding="utf-8")
        for name in _VAR.findall(text):
            if name not in ALLOWED_VARS and not name.startswith(ALLOWED_VAR_PREFIXES):
                unexplained.add(f"{path.relative_to(root)}: var {name}")
        for name in _ENV.findall(text):
            if name not in ALLOWED_ENV and not name.startswith(ALLOWED_ENV_PREFIXES):
                unexplained.add(f"{path.relative_to(root)}: env_var {name}")
    assert not unexplained, sorted(unexplained)


def _compiled(project: Project, name: str, *extra: str) -> str:
    result = dbt(project, "--no-populate-cache", "compile", "--no-introspect", "--select", name, *extra)
    assert result.returncode == 0, result.stdout[-3000:]
    found = list(project.target_path.glob(f"compiled/*/models/**/{name}.sql"))
    assert len(found) == 1, found
    return found[0].read_text(encoding="utf-8")


@pytest.mark.dbt
def test_the_old_switches_leave_tokenisation_and_the_guard_on(tmp_path: Path) -> None:
    project = Project.locate(duckdb_path=tmp_path / "t.duckdb", artifacts_dir=tmp_path, key_file=tmp_path / "k.csv")
    init_key(project.key_file)
    compiled = _compiled(project, "base_crm__customers", "--vars", json.dumps(OLD_SWITCHES))
    assert compiled.count("sha256(") >= 2, "a var turned the keyed hash off"
    manifest = json.loads((project.target_path / "manifest.json").read_text(encoding="utf-8"))
    for node in manifest["nodes"].values():
        if node["resource_type"] in ("model", "snapshot") and node["fqn"][1] != "vault":
            hooks = [h["sql"] for h in node["config"]["post-hook"]]
            assert any("privacy_guard()" in h for h in hooks), node["unique_id"]


@pytest.mark.dbt
def test_the_identity_treatment_exists_only_in_a_throwaway_copy(tmp_path: Path) -> None:
    real = Project.locate(duckdb_path=tmp_path / "t.duckdb", artifacts_dir=tmp_path, key_file=tmp_path / "k.csv")
    init_key(real.key_file)
    copy = scratch_project(real, tmp_path / "scratch", macros=IDENTITY_MACROS, drop_macros=IDENTITY_DROPPED_MACROS)
    # The copy's tokens are the identity; only the quarantine's keyed hash (not a token) still hashes there.
    hashed_in_copy = _compiled(copy, "base_crm__customers").count("sha256(")
    # The copy's guard screens but refuses nothing; the checkout's guard is the one that refuses.
    guard = "macros/privacy/guard.sql"
    assert "macro privacy_guard()" not in (copy.root / guard).read_text(encoding="utf-8")
    assert "macro privacy_guard_screen()" in (copy.root / guard).read_text(encoding="utf-8")
    refusing = (real.root / guard).read_text(encoding="utf-8").split("macro privacy_guard_screen")[0]
    assert "raise_compiler_error" in refusing
    # … and the checkout is as it was: every token hashed.
    hashed_in_checkout = _compiled(real, "base_crm__customers").count("sha256(")
    assert hashed_in_checkout - hashed_in_copy >= 6  # three tokens (national ID, mobile, e-mail), two hashes each
    assert not (real.root / "macros" / "scratch").exists()


def test_a_throwaway_copy_drops_a_macro_only_in_the_copy_and_refuses_one_it_cannot_find(tmp_path: Path) -> None:
    real = Project.locate()
    copy = scratch_project(real, tmp_path / "drop", drop_macros=("landing_window_start",))
    window = "macros/incremental/landing_window.sql"
    assert "macro landing_window_start" not in (copy.root / window).read_text(encoding="utf-8")
    assert "macro raw_partitions_since" in (copy.root / window).read_text(encoding="utf-8")
    assert "macro landing_window_start" in (real.root / window).read_text(encoding="utf-8")
    with pytest.raises(ScratchError, match="defines no macro"):
        scratch_project(real, tmp_path / "none", drop_macros=("no_such_macro",))
