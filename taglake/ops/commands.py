"""Operating the lake's commands: `taglake build`, `run-daily`, `demo`, `dbt`, `query`, `quality`, `metrics`,
`lineage`, `tag-docs` (and `alerts`, registered from taglake.ops.alert_commands, `scan-pii`, from
taglake.ops.leak_scan, and `run-window`, from taglake.ops.run_window_command)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from taglake.core import targets
from taglake.core.cli_args import Subparsers, add_aws_options, non_negative_float, non_negative_int, strip_separator
from taglake.core.project import Project
from taglake.core.text_tables import format_table
from taglake.ops import alert_commands, leak_scan, run_window_command
from taglake.privacy.dbt_runner import run_dbt


def register(sub: Subparsers) -> None:
    _add_build(sub)
    _add_run_daily(sub)
    run_window_command.register(sub)
    _add_demo(sub)
    _add_dbt(sub)
    _add_query(sub)
    _add_quality(sub)
    _add_metrics(sub)
    _add_lineage(sub)
    _add_tag_docs(sub)
    alert_commands.register(sub)
    leak_scan.register(sub)


def _build_target(ns: argparse.Namespace) -> str | None:
    """dbt arguments passed on (`-- --target X`) win over --target, which wins over DBT_TARGET/TAGLAKE_TARGET."""
    from taglake.ops.dbt_guard import effective_target

    return effective_target(strip_separator(ns.dbt_args), os.environ, default=ns.target)


def _build_dbt_args(ns: argparse.Namespace) -> list[str]:
    return ["build", *strip_separator(ns.dbt_args)]


def _dbt_target(ns: argparse.Namespace) -> str | None:
    from taglake.ops.dbt_guard import effective_target

    return effective_target(strip_separator(ns.dbt_args), os.environ)


def _dbt_args(ns: argparse.Namespace) -> list[str]:
    return strip_separator(ns.dbt_args)


def _query_target(ns: argparse.Namespace) -> str:
    return targets.resolve(ns.target)


DEMO_ANALYSIS = "card_spend_by_category"


def _add_build(sub: Subparsers) -> None:
    p = sub.add_parser(
        "build",
        help="dbt deps + dbt build on a target (default: local DuckDB), with dbt's full output",
        description="Install the project's dbt packages (skipped when packages.yml declares none), then seed, run "
        "and test every node. On a local target the raw zone's pre-flight check (`taglake check-lake`) runs first; "
        "a problem stops the build. Prints dbt's full per-node output (redacted, colour codes only on a terminal), "
        "for engineers; `taglake demo` runs the same build quietly and prints a summary.",
    )
    p.add_argument("--target", default=None, help="dbt target (default: TAGLAKE_TARGET or local)")
    p.add_argument("dbt_args", nargs=argparse.REMAINDER, help="more arguments for dbt build, after --")
    p.set_defaults(func=cmd_build, target_of=_build_target, dbt_args_of=_build_dbt_args)


def _add_run_daily(sub: Subparsers) -> None:
    p = sub.add_parser(
        "run-daily",
        help="the daily run: source freshness, incremental build, leak scan; prints a summary",
        description="Run one day: `dbt source freshness` (a stale source stops the run), `dbt deps` (when packages.yml "
        "declares a package) + `dbt build` "
        "(incremental facts process only the new landing partitions plus the late-arrival lookback; on a local "
        "target the lookback only from the first partition whose files changed since the last run that passed "
        "(the raw file ledger in the build's database), and their data tests and privacy guard check only those "
        "landing days, read from the tables before the "
        "build, and whole tables in a first build or with `-- --full-refresh`; snapshots record what changed; "
        "unit tests are left out: CI and every full build run them), "
        "then `taglake scan-pii` of the local build; on a local target the pre-flight check "
        "(`taglake check-lake`) runs before anything. Prints each step's status and time; "
        "exits 1 when a step fails. See docs/daily-runs.md.",
    )
    p.add_argument("--target", default=None, help="dbt target (default: TAGLAKE_TARGET or local)")
    p.add_argument(
        "--append-day",
        action="store_true",
        help="simulate the day: first append the next landing day to the local lake (taglake generate --append-day)",
    )
    p.add_argument(
        "--allow-stale",
        action="store_true",
        help="go on when a source is stale (replaying an old lake); each stale source is still one line under "
        "the summary (`stale (allowed by --allow-stale): SOURCE newest landing DATE, N days`); dbt's freshness "
        "output stays in logs/dbt.log",
    )
    p.add_argument("--no-scan", action="store_true", help="skip the leak scan (only local builds are scanned)")
    p.add_argument("dbt_args", nargs=argparse.REMAINDER, help="more arguments for dbt build, after --")
    p.set_defaults(func=cmd_run_daily, target_of=_build_target, dbt_args_of=_build_dbt_args)


def _add_demo(sub: Subparsers) -> None:
    p = sub.add_parser(
        "demo",
        help="generate the small lake, build it on DuckDB, print a summary, a sample query and a leak scan",
        description="The main job on a laptop: generate the default lake (unless one is there), make the masking "
        "key if there is none (`taglake keys init --if-missing`, said on the console), check the lake "
        "(`taglake check-lake`), dbt build on the local target quietly (dbt's output goes to logs/dbt.log, "
        "redacted; on failure the failing nodes' lines are shown), then print the build's PASS/WARN/ERROR counts, "
        "what landed, what staging accepted and quarantined, the relations built per schema, the result of "
        f"analyses/{DEMO_ANALYSIS}.sql, the leak scan of the build (exit 1 on any hit, 2 when there was nothing "
        "to scan) and where to look next. Exit 1 when the build fails.",
    )
    p.set_defaults(func=cmd_demo, target_of=lambda ns: "local")


def _add_dbt(sub: Subparsers) -> None:
    p = sub.add_parser(
        "dbt",
        help="run a dbt command with this checkout's profiles.yml (outside *_system: no show, run-operation, --inline)",
        description="Run dbt in the project folder with DBT_PROFILES_DIR pointing at the repo's profiles.yml. Outside "
        "the system targets, what would print data or run arbitrary Jinja with the pipeline's access is refused: "
        "show, run-operation (but the project's create_spectrum_schemas), --inline, clone, retry, --state/--defer, "
        "--profiles-dir/--project-dir, --vars naming a privacy setting or holding more than a plain value, and docs "
        "serve beyond 127.0.0.1 (docs/privacy.md). A *_system target needs the system identity "
        "(TAGLAKE_SYSTEM_IDENTITY).",
    )
    p.add_argument("dbt_args", nargs=argparse.REMAINDER, help="the dbt command and its arguments")
    p.set_defaults(func=cmd_dbt, target_of=_dbt_target, dbt_args_of=_dbt_args)


def _add_query(sub: Subparsers) -> None:
    p = sub.add_parser(
        "query",
        help="run an analysis or ad hoc SQL on a target (local DuckDB, Athena, Redshift); print a table or write CSV",
        description="Run analyses/NAME.sql (compiled by dbt for the target, with --vars: every analysis at once, the "
        "compiled SQL kept under target/query_cache/ until an analysis, macro, model, setting or var value changes) "
        "or one ad hoc read-only "
        "query (--sql, --file; its only Jinja may be {{ ref('<mart, reference seed or snapshot>') }} and "
        "{{ var('<name>') }}) against a target. An unqualified name is a mart on every engine: "
        "`select * from fct_customer_tags` reads <schema>_marts.fct_customer_tags (locally taglake_marts; on Athena "
        "the workgroup's database <schema>_marts; on Redshift the search path); qualify a reference seed or snapshot "
        "(taglake_reference.tag_catalog) or ref() it. Outside the "
        "system targets only the consumption relations (marts, reference seeds, snapshots: vars access in "
        "dbt_project.yml) are reachable: locally the query runs on a locked, read-only copy of them beside the "
        "build (no files, URLs, extensions, ATTACH, COPY or SET); on Athena and Redshift it must be one query over "
        "<schema>_marts, <schema>_reference and <schema>_snapshots; Athena runs it in the workgroup and prints the "
        "data scanned and its cost; Redshift connects with the settings profiles.yml reads (TAGLAKE_REDSHIFT_*, "
        "docs/deployment.md). SQL that names the vault runs only on the system account's targets (*_system), "
        "which need the system identity (TAGLAKE_SYSTEM_IDENTITY). Wide (Chinese, full-width) values line up in "
        "the table. See docs/privacy.md.",
    )
    p.add_argument("analysis", nargs="?", default=None, help="an analysis under analyses/, without .sql")
    p.add_argument("--sql", default=None, help="ad hoc SQL")
    p.add_argument("--file", type=Path, default=None, help="a file of ad hoc SQL")
    p.add_argument("--target", default=None, help="dbt target (default: TAGLAKE_TARGET or local)")
    p.add_argument(
        "--vars",
        default=None,
        metavar="YAML",
        help="values for var() in the analysis or ad hoc SQL, a YAML or JSON mapping as dbt's --vars, e.g. "
        '\'{"as_of": "2026-11-30"}\'; values plain codes, numbers or dates',
    )
    p.add_argument("--limit", type=non_negative_int, default=50, help="rows to print (default: 50; --csv writes all)")
    p.add_argument("--csv", type=Path, default=None, help="write every row to this CSV file instead of printing")
    p.add_argument(
        "--db",
        type=Path,
        default=None,
        help="local targets: the DuckDB build whose consumption relations are read",
    )
    p.add_argument("--workgroup", default=None, help="Athena workgroup (default: TAGLAKE_ATHENA_WORK_GROUP)")
    p.add_argument(
        "--output-location", default=None, help="Athena result location (default: TAGLAKE_ATHENA_S3_STAGING_DIR)"
    )
    p.add_argument(
        "--usd-per-tb", type=non_negative_float, default=5.0, help="Athena price per TB scanned (default: 5)"
    )
    add_aws_options(p)
    p.set_defaults(func=cmd_query, target_of=_query_target)


def _add_tag_docs(sub: Subparsers) -> None:
    p = sub.add_parser(
        "tag-docs",
        help="write the docs site's tag blocks (thresholds, catalog rows) to docs/dbt/tag_reference.md",
        description="Write docs/dbt/tag_reference.md, the dbt docs blocks that show each tag's threshold values and "
        "the tag catalog's rows on the docs site (make docs runs it before dbt docs generate): from each tag's docs "
        "block in docs/dbt/tags.md (the vars it names), dbt_project.yml's vars (their values) and "
        "seeds/tag_catalog.csv. With --check, write nothing and exit 1 when the file is out of step.",
    )
    p.add_argument("--check", action="store_true", help="only check that the file is current (exit 1 if not)")
    p.set_defaults(func=cmd_tag_docs)


def cmd_tag_docs(ns: argparse.Namespace, project: Project, target: str | None) -> int:
    from taglake.ops import tag_docs

    if ns.check:
        tag_docs.check(project.root)
        print(f"{tag_docs.OUTPUT} is current")
        return 0
    print(f"wrote {tag_docs.write(project.root).relative_to(project.root)}")
    return 0


def _add_lineage(sub: Subparsers) -> None:
    p = sub.add_parser(
        "lineage",
        help="lineage of the last dbt run: OpenLineage events (emit) and DataHub's view of the lake (datahub)",
        description="Lineage for the data managers (docs/operations.md, Lineage in DataHub). Both read sanitised "
        "copies of dbt's artifacts in target/: graph, names, types, descriptions, zones, owners and personal-data "
        "classes leave; SQL text, Jinja, file paths (the key file's among them), other meta and run messages do "
        "not, and output holding a national-ID or mobile shape or key material is refused.",
    )
    lineage = p.add_subparsers(dest="lineage_command", required=True, metavar="ACTION")
    emit = lineage.add_parser(
        "emit",
        help="turn the last run's artifacts in target/ into OpenLineage events (openlineage-dbt)",
        description="Turn the last dbt run's artifacts in target/ (manifest, run_results, catalog when there) into "
        "OpenLineage events with openlineage-dbt's DbtLocalArtifactProcessor: a START and a COMPLETE or FAIL per "
        "model, seed and snapshot, with inputs, outputs, schema and column lineage, and one per test. Sent "
        "through the transport OPENLINEAGE_URL or OPENLINEAGE_CONFIG (an openlineage.yml) configures, HTTP in "
        "production; without either, appended to target/lineage/openlineage.jsonl (the file transport). The MWAA "
        "DAG runs it after each build.",
    )
    emit.add_argument("--target", default=None, help="the dbt target the run used (default: TAGLAKE_TARGET or local)")
    emit.add_argument(
        "--run-id",
        default=None,
        help="the parent run's id (a UUID, e.g. the Airflow task's); every node's run links to it",
    )
    emit.set_defaults(func=cmd_lineage_emit, target_of=_query_target)
    datahub = lineage.add_parser(
        "datahub",
        help="ingest the dbt artifacts and the raw Glue catalog with DataHub into target/lineage/ (make lineage)",
        description="DataHub's own ingestion, in its own venv (make venv-datahub): the sanitised dbt artifacts "
        "(manifest, catalog of `dbt docs generate`, sources, run results) and the raw zone's Glue catalog (made "
        "by `taglake catalog` in a moto_server on 127.0.0.1, started and stopped here) into "
        "target/lineage/datahub_metadata.json and DataHub lite (target/lineage/datahub_lite.db). Raw tables are "
        "Glue datasets; zones (Raw, Transformed, Consumption, Data Mart) are glossary terms, owners groups, "
        "personal-data classes the terms PII.<class> on raw columns. The recipes are left in "
        "target/lineage/recipes/.",
    )
    datahub.add_argument(
        "--datahub-venv",
        type=Path,
        default=None,
        help="the DataHub venv (default: TAGLAKE_DATAHUB_VENV; `make venv-datahub` prints it)",
    )
    datahub.add_argument(
        "--glue-endpoint",
        default=None,
        help="read this Glue endpoint instead of a local moto_server (`aws`: the account's own Glue catalog)",
    )
    datahub.add_argument(
        "--gms",
        default=None,
        metavar="URL",
        help="production: send to this DataHub GMS over REST (token: DATAHUB_GMS_TOKEN) from the account's Glue "
        "catalog, instead of the metadata file and DataHub lite",
    )
    datahub.add_argument(
        "--docs",
        action="store_true",
        help="first run `dbt docs generate` on the local target for the catalog, keeping the last run's run_results",
    )
    datahub.set_defaults(func=cmd_lineage_datahub)


def cmd_lineage_emit(ns: argparse.Namespace, project: Project, target: str | None) -> int:
    from taglake.ops.lineage import emit

    if ns.run_id is not None:
        import uuid

        from taglake.ops.lineage import LineageError

        try:
            uuid.UUID(ns.run_id)
        except ValueError:
            raise LineageError("--run-id takes a UUID (OpenLineage run ids are UUIDs)") from None
    count, where = emit(project, target=target, run_id=ns.run_id)
    print(f"lineage: {count} OpenLineage events to {where}")
    return 0


def cmd_lineage_datahub(ns: argparse.Namespace, project: Project, target: str | None) -> int:
    from taglake.ops.lineage_datahub import generate_catalog, ingest

    venv = ns.datahub_venv or (
        Path(os.environ["TAGLAKE_DATAHUB_VENV"]) if os.environ.get("TAGLAKE_DATAHUB_VENV") else None
    )
    if venv is None:
        from taglake.ops.lineage import LineageError

        raise LineageError(
            "no DataHub venv: pass --datahub-venv or set TAGLAKE_DATAHUB_VENV (make venv-datahub prints it)"
        )
    if ns.docs:
        print("dbt docs generate: the catalog (column types) …", flush=True)
        generate_catalog(project)
    if ns.gms:
        print("datahub ingest: the dbt artifacts and the account's Glue catalog, to the GMS …", flush=True)
        out = ingest(project, venv, glue_endpoint=ns.glue_endpoint or "aws", gms=ns.gms)
        print(f"lineage: {out.records} DataHub records sent to {ns.gms} (checked copy: {out.metadata_file})")
        return 0
    print("datahub ingest: the dbt artifacts and the raw Glue catalog (moto on 127.0.0.1) …", flush=True)
    out = ingest(project, venv, glue_endpoint=ns.glue_endpoint)
    print(f"lineage: {out.records} DataHub records in {out.metadata_file} and DataHub lite {out.lite_file}")


def _add_quality(sub: Subparsers) -> None:
    p = sub.add_parser(
        "quality",
        help="the quality history: record a run's checks in fct_quality_check_results",
        description="The quality history (docs/operations.md): every run's data tests, source freshness checks and "
        "reconciliation, one row per check per run, in the mart fct_quality_check_results. dbt's on-run-end hook "
        "records them as each dbt command ends; `record` records them again from dbt's artifacts, for what the "
        "hook could not (a freshness check before the history existed, a run on another worker).",
    )
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    rec = actions.add_parser(
        "record",
        help="record target/run_results.json and target/sources.json under a run id",
        description="Record the data tests and reconciliation of target/run_results.json and the freshness checks "
        "of target/sources.json in fct_quality_check_results under --run-id (the run id the DAG passes to every "
        "dbt call as the var taglake_run_id; a run without it is recorded under dbt's invocation id). Recording a "
        "run again replaces its rows: one row per check per run. A run_results.json of another run is refused. "
        "Statuses and counts only: no failure message, SQL or value. A failed column_values test (a model's "
        "not_null and accepted_values checks in one query) is recorded one row per check: its compiled query, "
        "from run_results.json, is run again for each check's count.",
    )
    rec.add_argument("--run-id", required=True, help="the run: the var taglake_run_id of its dbt calls")
    rec.add_argument("--as-of", default=None, help="the as-of date, YYYY-MM-DD (default: what the run checked)")
    rec.add_argument("--target", default=None, help="dbt target (default: TAGLAKE_TARGET or local)")
    rec.add_argument("--run-results", type=Path, default=None, help="run_results.json (default: target/)")
    rec.add_argument("--sources", type=Path, default=None, help="sources.json (default: target/)")
    rec.set_defaults(func=cmd_quality_record, target_of=_query_target)


def _add_metrics(sub: Subparsers) -> None:
    p = sub.add_parser(
        "metrics",
        help="CloudWatch metrics of a run: duration, failures, quarantine, freshness lag, bytes scanned",
        description="Per run, CloudWatch metrics from dbt's artifacts and the quality history (docs/operations.md, "
        "Metrics). AWS settings from the environment (AWS_ENDPOINT_URL for a local endpoint).",
    )
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    put = actions.add_parser(
        "put",
        help="put one run's metrics",
        description="Put one run's metrics in CloudWatch: RunDurationSeconds, ModelsFailed, TestsFailed "
        "(target/run_results.json), RowsQuarantined per source (fct_quality_check_results of the run), "
        "FreshnessLagSeconds per source (target/sources.json) and BytesScanned where the engine reports it "
        "(Athena), with the dimensions Environment, Target and Source (per-source metrics). Prints what it put.",
    )
    put.add_argument("--run-id", required=True, help="the run: the var taglake_run_id of its dbt calls")
    put.add_argument("--as-of", required=True, help="the run's as-of date, YYYY-MM-DD (the metrics' timestamp)")
    put.add_argument("--namespace", default="Taglake", help="CloudWatch namespace (default: Taglake)")
    put.add_argument(
        "--environment", default=None, help="the Environment dimension (default: TAGLAKE_ENVIRONMENT or dev)"
    )
    put.add_argument("--target", default=None, help="dbt target (default: TAGLAKE_TARGET or local)")
    put.add_argument("--run-results", type=Path, default=None, help="run_results.json (default: target/)")
    put.add_argument("--sources", type=Path, default=None, help="sources.json (default: target/)")
    add_aws_options(put)
    put.set_defaults(func=cmd_metrics_put, target_of=_query_target)


def cmd_quality_record(ns: argparse.Namespace, project: Project, target: str | None) -> int:
    from taglake.ops.quality import record

    count = record(
        project,
        target=target,
        run_id=ns.run_id,
        as_of=ns.as_of,
        run_results_path=ns.run_results,
        sources_path=ns.sources,
    )
    print(f"quality history: {count} outcomes of run {ns.run_id} recorded in fct_quality_check_results")
    return 0


def cmd_metrics_put(ns: argparse.Namespace, project: Project, target: str | None) -> int:
    from taglake.ops import metrics

    environment = ns.environment or os.environ.get("TAGLAKE_ENVIRONMENT", "dev")
    data = metrics.run_metrics(
        project,
        target=str(target),
        run_id=ns.run_id,
        as_of=ns.as_of,
        environment=environment,
        run_results_path=ns.run_results,
        sources_path=ns.sources,
    )
    client = metrics.cloudwatch_client(region=ns.region, endpoint_url=ns.endpoint_url)
    metrics.put_metrics(client, data, namespace=ns.namespace)
    print(format_table(["metric", "dimensions", "value", "unit"], [d.row() for d in data]))
    return 0


def preflight(project: Project, target: str | None) -> None:
    """Before a local build: the key first (KeyFileError / KeyStateError: nothing is read without a sound key),
    then the pre-flight check of the local lake (LakeCheckError on any problem)."""
    from taglake.lake.preflight import require_clean_lake
    from taglake.privacy.dbt_runner import prepare_local

    if targets.is_local(target):
        prepare_local(project, target, ["build"])
        require_clean_lake(project.lake_dir, project_dir=project.root)


def cmd_run_daily(ns: argparse.Namespace, project: Project, target: str | None) -> int:
    from taglake.lake.generate import append_days
    from taglake.ops.daily import run_daily

    if ns.append_day:
        manifest = append_days(project.lake_dir, progress=False)
        print(f"appended landing day {manifest['params']['last_date']} to {project.lake_dir}")
    preflight(project, target)
    result = run_daily(
        project,
        target=target,
        allow_stale=ns.allow_stale,
        scan=not ns.no_scan,
        build_args=strip_separator(ns.dbt_args),
    )
    print(format_table(["step", "status", "seconds", "detail"], result.rows()))
    for step in result.steps:
        if step.report:
            print(step.report, end="")
    print("daily run ok" if result.ok else "daily run FAILED", file=sys.stdout if result.ok else sys.stderr)
    return 0 if result.ok else 1


WHERE_NEXT = (
    ("make docs-serve", "the docs site: lineage, every model and column (http://127.0.0.1:8080)"),
    (f"taglake query {DEMO_ANALYSIS}", "run an analysis or ad hoc SQL on the marts (taglake query --help)"),
    ("make run-daily", "append a landing day and run the daily job (docs/daily-runs.md)"),
    ("make lineage", "DataHub's view of this build: lineage and zones in target/lineage/ (docs/operations.md)"),
    ("docs/dbt/tags.md", "what each customer tag means"),
    ("docs/privacy.md", "who may see what, and how the masking key is kept"),
    ("docs/architecture.md", "the taglake package, a folder per concern"),
)


def cmd_demo(ns: argparse.Namespace, project: Project, target: str | None) -> int:
    from taglake.lake.generate import generate_lake
    from taglake.ops import local_build, query
    from taglake.privacy.keys import init_key

    if not (project.lake_dir / "manifest.json").is_file():
        print(f"generating the small lake in {project.lake_dir} …", flush=True)
        generate_lake(project.lake_dir, progress=sys.stderr.isatty())
    else:
        print(f"using the lake in {project.lake_dir}", flush=True)
    key, made = init_key(project.key_file, if_missing=True)  # the demo's explicit `taglake keys init --if-missing`
    if made:
        print(f"made masking key version {key.key_version} in {project.key_file} (taglake keys init; never printed)")
    preflight(project, "local")
    print("check-lake: the raw zone is clean", flush=True)
    if not local_build.declares_packages(project.root):
        print("dbt deps: skipped (packages.yml declares no package)", flush=True)
    print("dbt build: running (quietly; dbt's output goes to logs/dbt.log) …", flush=True)
    outcome = local_build.build_quietly(project, target="local")
    log = _shown_path(project.log_path / "dbt.log", project.root)
    print(outcome.line(log), flush=True)
    if not outcome.ok:
        print(f"taglake: demo: dbt build failed: see the lines above and {log}", file=sys.stderr)
        return 1
    print("\nWhat landed, and what staging did with it:")
    print(format_table(*local_build.intake_summary(project)))
    print("\nRelations built, per schema:")
    print(format_table(*local_build.schema_summary(project)))
    sample = query.run_query(project, "local", query.resolve_sql(project, "local", analysis=DEMO_ANALYSIS))
    print(f"\nSample query (analyses/{DEMO_ANALYSIS}.sql):")
    print(format_table(sample.columns, sample.rows))
    from taglake.privacy.scan.scanner import EXIT_HITS, EXIT_NOTHING_SCANNED, NothingToScan, format_report, scan_project

    print("\nLeak scan of the build, target/ and logs/:")
    try:
        hits = scan_project(project)
    except NothingToScan as exc:
        print(f"taglake: scan-pii: {exc} (not scanned, not clean)", file=sys.stderr)
        return EXIT_NOTHING_SCANNED
    print(format_report(hits), end="")
    print("\nWhere to look next:")
    width = max(len(what) for what, _ in WHERE_NEXT)
    for what, why in WHERE_NEXT:
        print(f"  {what.ljust(width)}  {why}")
    return EXIT_HITS if hits else 0


def _shown_path(path: Path, root: Path) -> Path:
    """`logs/dbt.log` when the path is inside the checkout, else the full path."""
    try:
        return path.relative_to(root)
    except ValueError:
        return path


def cmd_query(ns: argparse.Namespace, project: Project, target: str | None) -> int:
    from taglake.ops import query

    target = str(target)
    dbt_vars = query.parse_query_vars(ns.vars, target)
    sql = query.resolve_sql(project, target, analysis=ns.analysis, sql=ns.sql, sql_file=ns.file, dbt_vars=dbt_vars)
    connection = None
    if query.engine_of(target) == "athena":
        athena = query.athena_settings(
            target, region=ns.region, workgroup=ns.workgroup, output_location=ns.output_location
        )
        connection = query.athena_connection(athena, endpoint_url=ns.endpoint_url)
    result = query.run_query(project, target, sql, db_path=ns.db, connection=connection)
    if ns.csv:
        query.write_csv(result, ns.csv)
        print(f"wrote {len(result.rows):,} rows to {ns.csv}")
    else:
        print(query.format_result(result, ns.limit))
    if result.scanned_bytes is not None:
        print(query.scan_summary(result.scanned_bytes, ns.usd_per_tb))
    return 0


def cmd_dbt(ns: argparse.Namespace, project: Project, target: str | None) -> int:
    """dbt with this checkout's profile, on the target the policy was checked for (taglake.ops.dbt_guard)."""
    return run_dbt(project, strip_separator(ns.dbt_args), target=str(target), check=False)


def cmd_build(ns: argparse.Namespace, project: Project, target: str | None) -> int:
    from taglake.ops.local_build import build

    preflight(project, target)
    build(project, target=target, extra=strip_separator(ns.dbt_args))
    return 0
