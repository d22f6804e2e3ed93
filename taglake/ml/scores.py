"""Model scores back into the lake through the existing score source, `ml.model_scores` (docs/ml.md § Scores).

The contract. A SageMaker batch transform scores the masked features, so what it writes knows customers only by
`customer_token`. It runs with `DataProcessing = {"InputFilter": "$[1:]", "JoinSource": "Input",
"OutputFilter": "$[0,-1]"}` over CSV input whose first column is the token, so each output line
(`<input>.out`) is `customer_token,score`: a 64-hex token and a probability in [0, 1]. The raw score source is keyed
by the national ID (the source YAML: `national_id`, `model_name`, `model_version`, `scored_at`, `score`; staging
tokenises it), so the system account — and only it — turns each token back into the national ID it was made from
and writes one Parquet file per scoring run where the source reads it:

    raw/ml/model_scores/year=<Y>/month=<MM>/day=<DD>/model_scores_<YYYYMMDD>.parquet

The next build tokenises the national IDs again with the same key, so the scores join the features on the very
token the model saw; nothing clear leaves the raw zone. On AWS the token-to-ID map is the vault
(`vault_customer_identities`, readable by the system role only); locally (`identities_from_lake`) it is the raw
zone's national IDs tokenised with the key, which only the system account may read.

Nothing here prints a value: errors name the file, the line number and the rule, never the token, the ID or the
score.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from taglake.core.errors import TaglakeError
from taglake.core.sources import source_tables
from taglake.lake.raw_tables import raw_table
from taglake.privacy.keys import read_key
from taglake.privacy.scan.canaries import collect_canaries
from taglake.privacy.system_identity import require_local_system_act
from taglake.privacy.tokens import normalize, tokenize

TOKEN = re.compile(r"[0-9a-f]{64}")
VERSION = re.compile(r"[0-9]{1,2}[.][0-9]{1,2}[.][0-9]{1,2}")
SCORE_TABLE = "ml.model_scores"


class ScoreError(TaglakeError):
    """Scores that cannot be taken back: one line naming the file, line or argument and the rule, never a value."""


@dataclass(frozen=True)
class Score:
    customer_token: str
    score: float


def read_transform_output(path: Path) -> list[Score]:
    """The lines `customer_token,score` of a batch transform's `.out` file, checked line by line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScoreError(f"{path}: cannot be read as UTF-8 text ({type(exc).__name__})") from None
    out: list[Score] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.strip().split(",")
        if len(parts) != 2 or not TOKEN.fullmatch(parts[0]):
            raise ScoreError(f"{path}: line {n}: not `customer_token,score` with a 64-hex token (JoinSource=Input)")
        try:
            score = float(parts[1])
        except ValueError:
            raise ScoreError(f"{path}: line {n}: the score is not a number") from None
        if math.isnan(score) or not 0.0 <= score <= 1.0:
            raise ScoreError(f"{path}: line {n}: the score is outside [0, 1]")
        out.append(Score(parts[0], score))
    if not out:
        raise ScoreError(f"{path}: no scores (a scoring run that lands must hold rows)")
    return out


def identities_from_lake(lake_dir: Path, key_file: Path, project_dir: Path | None = None) -> dict[str, str]:
    """token → national ID for every national ID of the raw zone, tokenised with the key (system account only)."""
    key = read_key(key_file)
    ids = {normalize(v, "national_id") for v in collect_canaries(lake_dir, project_dir=project_dir)["national_id"]}
    return {t: i for i in ids if (t := tokenize(i, "national_id", key.k_inner, key.k_outer)) is not None}


def model_names() -> tuple[str, ...]:
    """The model names the score source accepts (its `model_name` column's declared values)."""
    table = source_tables()[SCORE_TABLE]
    return next(c.values for c in table.columns if c.name == "model_name")


def score_file(lake_dir: Path, scored_at: dt.datetime) -> Path:
    """Where a scoring run's file lands: the score source's partition folder and file name, as the generator (and the
    bank's scoring) lays them out (taglake.lake.raw_tables, from the source YAML)."""
    table = raw_table(SCORE_TABLE)
    day = scored_at.date()
    return lake_dir / table.partition_dir(day) / table.file_name(day)


def write_score_source(
    scores: Iterable[Score],
    identities: Mapping[str, str],
    *,
    lake_dir: Path,
    model_name: str,
    model_version: str,
    scored_at: dt.datetime,
) -> tuple[Path, int]:
    """Write one scoring run as the score source's file; (the file, rows written). A token without an identity
    (not a customer of this lake, or made with another key) stops the write: the count is named, never a token."""
    if not VERSION.fullmatch(model_version):
        raise ScoreError("--model-version: major.minor.patch, e.g. 1.4.0 (the source's declared format)")
    declared = model_names()
    if model_name not in declared:
        raise ScoreError(f"--model-name: one of {', '.join(declared)} (the score source's declared values)")
    scored_at = scored_at.astimezone(dt.UTC).replace(tzinfo=None) if scored_at.tzinfo else scored_at
    rows = list(scores)
    unknown = sum(1 for s in rows if s.customer_token not in identities)
    if unknown:
        raise ScoreError(f"{unknown} of {len(rows)} scores carry a token of no customer in this lake; nothing written")
    path = score_file(lake_dir, scored_at)
    columns = raw_table(SCORE_TABLE).columns
    data = pa.table(
        {
            "national_id": pa.array([identities[s.customer_token] for s in rows], pa.string()),
            "model_name": pa.array([model_name] * len(rows), pa.string()),
            "model_version": pa.array([model_version] * len(rows), pa.string()),
            "scored_at": pa.array([scored_at] * len(rows), pa.timestamp("us")),
            "score": pa.array([s.score for s in rows], pa.float64()),
        }
    )
    if set(data.column_names) != set(columns):
        raise ScoreError("models/staging/ml/_ml__sources.yml: model_scores' columns are not those this writer knows")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".parquet.tmp")
    pq.write_table(data.select(list(columns)), tmp)
    tmp.replace(path)
    return path, len(rows)


def return_scores(
    *,
    transform_output: Path,
    lake_dir: Path,
    key_file: Path,
    model_name: str,
    model_version: str,
    scored_at: dt.datetime,
    as_system: bool,
    environ: Mapping[str, str] | None = None,
    out_lake: Path | None = None,
) -> tuple[Path, int]:
    """The system account's act (`taglake ml scores-return --as-system`): a batch transform's output back into the
    lake's score source. Refused, before anything is read, without `as_system` and the system identity
    (TAGLAKE_SYSTEM_IDENTITY, as for `local_system`): it reads the raw zone's clear IDs and the key. Writes under
    `out_lake` (default: the same lake)."""
    if not as_system:
        raise ScoreError(
            "the score return maps tokens to national IDs: only the system account runs it, as an explicit act "
            "(`taglake ml scores-return --as-system`, docs/ml.md)"
        )
    require_local_system_act("the score return", environ=environ)
    read = read_transform_output(transform_output)
    identities = identities_from_lake(lake_dir, key_file)
    return write_score_source(
        read,
        identities,
        lake_dir=out_lake or lake_dir,
        model_name=model_name,
        model_version=model_version,
        scored_at=scored_at,
    )
