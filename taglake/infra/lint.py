"""`taglake infra check` (what `make infra-check` runs): the generated stacks are current, cfn-lint finds nothing,
checkov (its own venv: make venv-checkov) fails nothing, and every suppression carries its written reason.

checkov runs with the project's own policies too (infra/checkov/: a bucket's default encryption is a customer KMS
key). A suppression is a checkov skip in a resource's Metadata (`checkov: {skip: [{id, comment}]}`) or a cfn-lint one
(`cfn-lint: {config: {ignore_checks: [...]}}` with `reason`); one without a reason, or one checkov never needed
(the check passes or does not apply), is a finding too: a suppression must be both explained and necessary.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from taglake.core.errors import TaglakeError

TIMEOUT = 600


class LintError(TaglakeError):
    """A linter could not run (missing venv, unreadable output): the message names it and the fix."""


@dataclass(frozen=True)
class Suppression:
    tool: str  # checkov | cfn-lint
    check: str
    file: str  # the template's name, e.g. ingest.yaml
    resource: str  # logical id
    reason: str


@dataclass
class CheckovReport:
    passed: int = 0
    failed: list[tuple[str, str, str]] = field(default_factory=list)  # (check, file, resource)
    skipped: list[tuple[str, str, str]] = field(default_factory=list)
    parsing_errors: list[str] = field(default_factory=list)


def templates(folder: Path) -> list[Path]:
    return sorted((folder / "stacks").glob("*.yaml"))


def load(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(doc, dict):
        raise LintError(f"{path}: not a CloudFormation template (no mapping at the top)")
    return doc


def suppressions(folder: Path) -> list[Suppression]:
    """Every suppression written in the templates, with its reason ('' when none is written)."""
    out: list[Suppression] = []
    for path in templates(folder):
        for rid, resource in (load(path).get("Resources") or {}).items():
            meta = (resource or {}).get("Metadata") or {}
            for skip in (meta.get("checkov") or {}).get("skip") or []:
                out.append(
                    Suppression(
                        "checkov",
                        str(skip.get("id", "")),
                        path.name,
                        rid,
                        " ".join(str(skip.get("comment") or "").split()),
                    )
                )
            cfn = meta.get("cfn-lint") or {}
            for check in (cfn.get("config") or {}).get("ignore_checks") or []:
                out.append(
                    Suppression("cfn-lint", str(check), path.name, rid, " ".join(str(cfn.get("reason") or "").split()))
                )
    return out


def run_cfn_lint(paths: list[Path]) -> list[str]:
    """cfn-lint's findings (one line each, parseable format); [] when clean."""
    exe = Path(sys.executable).parent / "cfn-lint"
    if not exe.is_file():
        raise LintError(f"{exe}: cfn-lint is not installed: run `make setup` (it is in requirements.lock)")
    result = subprocess.run(
        [str(exe), "--format", "parseable", *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
        timeout=TIMEOUT,
    )
    if result.returncode not in (0, 2, 4, 6, 8, 10, 12, 14) and not result.stdout:
        raise LintError(f"cfn-lint failed to run (exit {result.returncode}): {result.stderr.strip()[:300]}")
    return [line for line in result.stdout.splitlines() if line.strip()]


def checkov_exe(venv: Path) -> Path:
    exe = venv / "bin" / "checkov"
    if not exe.is_file():
        raise LintError(f"{exe}: no checkov there: pass the folder `make venv-checkov` prints")
    return exe


def run_checkov(venv: Path, folder: Path) -> CheckovReport:
    """checkov over the CloudFormation templates under `folder`, offline (no guideline download)."""
    exe = checkov_exe(venv)
    own_checks = folder / "checkov"
    extra = ["--external-checks-dir", str(own_checks)] if own_checks.is_dir() else []
    result = subprocess.run(
        [
            str(exe),
            "-d",
            str(folder / "stacks"),
            "--framework",
            "cloudformation",
            "--skip-download",
            "-o",
            "json",
            *extra,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=TIMEOUT,
        env={"PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "BC_SKIP_MAPPING": "TRUE", "LOG_LEVEL": "ERROR"},
    )
    try:
        docs = json.loads(result.stdout)
    except json.JSONDecodeError as exc:
        raise LintError(
            f"checkov gave no JSON report (exit {result.returncode}): {result.stderr.strip()[-300:]}"
        ) from exc
    report = CheckovReport()
    for doc in docs if isinstance(docs, list) else [docs]:
        results = doc.get("results") or {}
        report.passed += len(results.get("passed_checks") or [])
        for kind, into in (("failed_checks", report.failed), ("skipped_checks", report.skipped)):
            for check in results.get(kind) or []:
                rid = str(check.get("resource", "")).rsplit(".", 1)[-1]
                into.append((str(check["check_id"]), Path(check["file_path"]).name, rid))
        report.parsing_errors += [str(p) for p in results.get("parsing_errors") or []]
        summary = doc.get("summary") or {}
        if summary.get("parsing_errors"):
            report.parsing_errors.append(f"{summary['parsing_errors']} template(s) checkov could not parse")
    if not report.passed and not report.failed:
        raise LintError(f"checkov checked nothing under {folder}: is it a folder of CloudFormation templates?")
    return report


def findings(folder: Path, checkov_venv: Path) -> list[str]:
    """Every problem `infra check` reports, one line each; [] when the stacks pass."""
    checkov_exe(checkov_venv)  # before the slow part: a wrong folder is one line at once
    out = [f"cfn-lint: {line}" for line in run_cfn_lint(templates(folder))]
    report = run_checkov(checkov_venv, folder)
    return out + checkov_findings(folder, report)


def checkov_findings(folder: Path, report: CheckovReport) -> list[str]:
    """checkov's failures and parse errors, and each suppression without a reason or not needed."""
    out = [f"checkov: {check} fails on {file} {rid}" for check, file, rid in report.failed]
    out += [f"checkov: {p}" for p in report.parsing_errors]
    used = set(report.skipped)
    for s in suppressions(folder):
        where = f"{s.file} {s.resource}: {s.tool} suppression {s.check}"
        if len(s.reason) < 20:
            out.append(f"{where} has no written reason (comment/reason of 20+ characters)")
        if s.tool == "checkov" and (s.check, s.file, s.resource) not in used:
            out.append(f"{where} is not needed (checkov does not fail it): remove it")
    return out
