"""The machine-learning commands: `taglake ml export`, `taglake ml scores-return` (docs/ml.md)."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from taglake.core.cli_args import Subparsers
from taglake.core.project import Project
from taglake.core.text_tables import format_table


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError("a date as YYYY-MM-DD") from None


def _timestamp(text: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError("a timestamp as YYYY-MM-DDTHH:MM[:SS], UTC") from None


def register(sub: Subparsers) -> None:
    p = sub.add_parser(
        "ml",
        help="the model consumers: Parquet extracts of the masked marts for EMR (Spark) and SageMaker",
        description="The machine-learning consumers (docs/ml.md): the consumption marts a role reads, as Parquet "
        "in the layout of the consumption bucket's extracts/, which the PySpark job (jobs/spark/) and the SageMaker "
        "training channel read (only masked marts: nothing raw, nothing from the vault); and the system account's "
        "return of a batch transform's scores into the score source.",
    )
    ml_sub = p.add_subparsers(dest="ml_command", required=True, metavar="COMMAND")
    e = ml_sub.add_parser(
        "export",
        help="write the marts of a role's datasets (default: the data scientists' features) as Parquet extracts",
        description="Write every consumption-layer mart whose dataset the role reads (vars.access; default "
        "data_scientist: the training-feature table and the monthly customer metrics) from the local build to "
        "OUT/extracts/<dataset>/<relation>/as_of_date=<date>/part-00000.parquet, the layout of the consumption "
        "bucket. Needs a build (taglake build) and its target/manifest.json.",
    )
    e.add_argument("--out", type=Path, required=True, help="the folder to write extracts/ under (a local root)")
    e.add_argument("--role", default="data_scientist", help="whose datasets to export (default: data_scientist)")
    e.add_argument("--as-of", type=_date, default=None, help="the as-of date (default: the build's as_of_date)")
    e.set_defaults(func=cmd_export)
    r = ml_sub.add_parser(
        "scores-return",
        help="the system account's act: a batch transform's scores back into the score source (ml.model_scores)",
        description="Read a batch transform's output (lines `customer_token,score`: docs/ml.md § Scores), map each "
        "token to the national ID it was made from (the raw zone's IDs tokenised with the key) and write the "
        "scoring run as raw/ml/model_scores/year=/month=/day=/model_scores_<YYYYMMDD>.parquet of the lake, which "
        "the next build reads and tokenises again. Only the system account: --as-system and the system identity "
        "(TAGLAKE_SYSTEM_IDENTITY), else refused before anything is read. Errors name the file and line, never a "
        "value.",
    )
    r.add_argument("--transform-output", type=Path, required=True, help="the batch transform's .out file")
    r.add_argument("--model-name", required=True, help="one of the score source's declared model names")
    r.add_argument("--model-version", required=True, help="major.minor.patch")
    r.add_argument("--scored-at", type=_timestamp, required=True, help="when the batch scored, UTC (ISO 8601)")
    r.add_argument("--as-system", action="store_true", help="required: the explicit act of the system account")
    r.set_defaults(func=cmd_scores_return)


def cmd_export(ns: argparse.Namespace, project: Project, target: str) -> int:
    from taglake.ml import export

    relations = export.role_relations(project.target_path / "manifest.json", ns.role, project.root)
    as_of = ns.as_of or export.build_as_of(project.duckdb_path, relations)
    done = export.export_relations(project.duckdb_path, relations, ns.out, as_of)
    rows = [[d.relation.name, str(d.rows), str(d.path.relative_to(ns.out))] for d in done]
    print(format_table(["relation", "rows", "file"], rows))
    return 0


def cmd_scores_return(ns: argparse.Namespace, project: Project, target: str) -> int:
    from taglake.ml import scores

    path, rows = scores.return_scores(
        transform_output=ns.transform_output,
        lake_dir=project.lake_dir,
        key_file=project.key_file,
        model_name=ns.model_name,
        model_version=ns.model_version,
        scored_at=ns.scored_at,
        as_system=ns.as_system,
    )
    print(f"scores-return: {rows:,} scores written to {path.relative_to(project.lake_dir)} (the next build reads them)")
    return 0
