"""Translate SQL compiled for Athena or Redshift into DuckDB SQL, to run it on the local lake.

sqlglot does the translation. Where its output would change what a query means, the fix is made here, on the
syntax tree, and listed in SEMANTIC_FIXES (docs keep the same list).
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

DIALECTS = {"athena": "athena", "redshift": "redshift", "local": "duckdb"}

SEMANTIC_FIXES: dict[str, str] = {
    "regexp_replace": "Athena (Trino) and Redshift replace every match; DuckDB replaces the first unless given 'g'.",
}


def _replace_every_match(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.RegexpReplace) and not node.args.get("modifiers"):
        node.set("modifiers", exp.Literal.string("g"))
    return node


def to_duckdb(sql: str, engine: str) -> str:
    """`sql` as compiled for `engine` (athena or redshift), as DuckDB SQL with the same meaning."""
    if engine not in ("athena", "redshift"):
        raise ValueError(f"no translation from {engine!r}; expected athena or redshift")
    statements = sqlglot.parse(sql, read=DIALECTS[engine])
    fixed = [s.transform(_replace_every_match) for s in statements if s is not None]
    return ";\n".join(s.sql(dialect="duckdb") for s in fixed)
