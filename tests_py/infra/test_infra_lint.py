"""cfn-lint and checkov run for real over infra/ and pass, every suppression is explained and needed, and a
mutation that drops a bucket's encryption or breaks a property makes them fail (on a temporary copy).

checkov runs from its own venv (`make venv-checkov`, made on first use and reused) once per module."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from infra_stacks import INFRA, ROOT

from taglake.infra import lint, names

pytestmark = pytest.mark.infra


@pytest.fixture(scope="module")
def checkov_venv() -> Path:
    result = subprocess.run(
        ["make", "-s", "--no-print-directory", "venv-checkov"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return Path(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def checkov_report(checkov_venv: Path) -> lint.CheckovReport:
    return lint.run_checkov(checkov_venv, INFRA)


def test_cfn_lint_finds_nothing_in_any_stack() -> None:
    paths = lint.templates(INFRA)
    assert [p.stem for p in paths] == sorted(name for name, _ in names.STACKS)
    assert lint.run_cfn_lint(paths) == []


def test_checkov_fails_nothing_and_reads_every_stack(checkov_report: lint.CheckovReport) -> None:
    assert checkov_report.failed == [] and checkov_report.parsing_errors == []
    assert checkov_report.passed > 150


def test_every_suppression_has_a_written_reason_and_is_needed(checkov_report: lint.CheckovReport) -> None:
    assert lint.checkov_findings(INFRA, checkov_report) == []
    written = lint.suppressions(INFRA)
    assert written, "the stacks carry suppressions: each is checked here"
    for s in written:
        assert len(s.reason) >= 20, s
    assert {(s.check, s.file, s.resource) for s in written if s.tool == "checkov"} == set(checkov_report.skipped)


def _copy_infra(tmp_path: Path) -> Path:
    dest = tmp_path / "infra"
    shutil.copytree(INFRA, dest)
    return dest


@pytest.mark.redteam
def test_a_bucket_without_encryption_or_with_an_unexplained_skip_fails_checkov(
    tmp_path: Path, checkov_venv: Path
) -> None:
    copy = _copy_infra(tmp_path)
    for path in (copy / "stacks").glob("*.yaml"):
        if path.name != "foundation.yaml":
            path.unlink()
    foundation = copy / "stacks" / "foundation.yaml"
    doc = yaml.safe_load(foundation.read_text(encoding="utf-8"))
    del doc["Resources"]["RawBucket"]["Properties"]["BucketEncryption"]
    del doc["Resources"]["CuratedBucket"]["Properties"]["VersioningConfiguration"]
    doc["Resources"]["ConsumptionBucket"]["Properties"]["PublicAccessBlockConfiguration"]["BlockPublicAcls"] = False
    doc["Resources"]["LogsBucket"]["Metadata"]["checkov"]["skip"][0]["comment"] = "ok"
    doc["Resources"]["RawKey"]["Properties"]["EnableKeyRotation"] = False
    foundation.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    report = lint.run_checkov(checkov_venv, copy)
    failed = {(check, rid) for check, _, rid in report.failed}
    assert {("CKV2_TAGLAKE_1", "RawBucket"), ("CKV_AWS_21", "CuratedBucket"), ("CKV_AWS_7", "RawKey")} <= failed
    assert ("CKV_AWS_53", "ConsumptionBucket") in failed
    problems = lint.checkov_findings(copy, report)
    assert any("LogsBucket" in p and "no written reason" in p for p in problems)
    assert any("RawBucket" in p for p in problems)


@pytest.mark.redteam
def test_a_broken_property_fails_cfn_lint(tmp_path: Path) -> None:
    copy = _copy_infra(tmp_path)
    ingest = copy / "stacks" / "ingest.yaml"
    text = ingest.read_text(encoding="utf-8")
    ingest.write_text(
        text.replace("Runtime: python3.12", "Runtime: python2.7").replace(
            "BillingMode: PAY_PER_REQUEST", "BillingMode: FREE"
        ),
        encoding="utf-8",
    )
    findings = lint.run_cfn_lint([ingest])
    assert any("Runtime" in f or "python2.7" in f for f in findings), findings
    assert any("BillingMode" in f or "FREE" in f for f in findings), findings
