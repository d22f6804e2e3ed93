"""The access declaration compiled for an AWS target: the Redshift grant statements and the Lake Formation plan
(macros/aws/access.sql, macros/aws/lake_formation.sql) as JSON values, offline. The declaration itself is read and
checked by taglake.privacy.access_policy."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from taglake.core.project import Project


def compile_access_json(
    project: Project, target: str, expression: str, *, artifacts_dir: Path, extra_vars: Mapping[str, Any] | None = None
) -> Any:
    """The JSON value of a Jinja expression over the project's graph (e.g. `redshift_access_statements()`,
    `lake_formation_plan()`), compiled for an AWS target offline: no credentials, every endpoint a closed port
    (taglake.verify.offline_compile), nothing contacted. `extra_vars` overrides vars (a test's changed declaration)."""
    import json
    from dataclasses import replace

    from taglake.privacy.dbt_runner import compile_inline_offline
    from taglake.verify.offline_compile import offline_env

    folder = artifacts_dir / target
    here = replace(project, target_path=folder / "target", log_path=folder / "logs")
    compiled = compile_inline_offline(
        here,
        "{{ tojson(" + expression + ") }}",
        env=offline_env(here, target),
        dbt_vars=extra_vars,
        what=f"offline compile of {expression} for target {target}",
    )
    return json.loads(compiled)
