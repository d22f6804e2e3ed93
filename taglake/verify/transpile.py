"""Translate SQL compiled for Athena or Redshift into DuckDB SQL, to run it on the local lake.

sqlglot does the translation. Where its output would change what a query means, the fix is made here, on the
syntax tree, and listed in SEMANTIC_FIXES (docs keep the same list).
"""

from __future__ import annotations

from collections.abc import Mapping

import sqlglot
from sqlglot import exp

DIALECTS = {"athena": "athena", "redshift": "redshift", "local": "duckdb"}

SEMANTIC_FIXES: dict[str, str] = {
    "regexp_replace": "Athena (Trino) and Redshift replace every match; DuckDB replaces the first unless given 'g'.",
    "is_valid_json": "Redshift's IS_VALID_JSON has no sqlglot translation; DuckDB's json_valid is the same test.",
    "json_extract_path_text": "Redshift's form with several keys (and null_if_invalid) loses every key after the "
    "first in sqlglot's output; it becomes json_extract_string with the whole '$.a.b' path.",
    "regexp_substr": "Redshift's 'e' parameter returns the first capture group; sqlglot's output returns the whole "
    "match. It becomes regexp_extract(…, 1).",
    "to_milliseconds": "Athena's to_milliseconds(interval) (dbt's datediff: date - date is an interval in Trino) is "
    "kept as is by sqlglot, where DuckDB's makes an interval of a number and date - date is days. to_milliseconds(a "
    "- b) becomes epoch_ms(a) - epoch_ms(b), any other interval epoch(x) * 1000.",
}


def _replace_every_match(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.RegexpReplace) and not node.args.get("modifiers"):
        node.set("modifiers", exp.Literal.string("g"))
    return node


def _athena_fixes(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Anonymous) and node.name.lower() == "to_milliseconds" and len(node.expressions) == 1:
        arg = node.expressions[0].unnest()
        if isinstance(arg, exp.Sub):

            def ms(side: exp.Expression) -> exp.Expression:
                return exp.Anonymous(this="epoch_ms", expressions=[exp.cast(side.copy(), "timestamp")])

            return exp.paren(exp.Sub(this=ms(arg.this), expression=ms(arg.expression)))
        seconds = exp.Anonymous(this="epoch", expressions=[arg.copy()])
        return exp.paren(exp.Mul(this=seconds, expression=exp.Literal.number(1000)))
    return node


def _redshift_fixes(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Anonymous) and node.name.lower() == "is_valid_json":
        return exp.Anonymous(this="json_valid", expressions=[e.copy() for e in node.expressions])
    if isinstance(node, exp.JSONExtractScalar) and node.expressions:
        keys = [node.expression, *node.expressions]
        names = [k.name for k in keys if isinstance(k, exp.Literal) and k.is_string]
        if len(names) != len([k for k in keys if not isinstance(k, exp.Boolean)]):
            raise ValueError(f"json_extract_path_text with a key that is not a literal: {node.sql('redshift')}")
        path = exp.Literal.string("$." + ".".join(names))
        return exp.Anonymous(this="json_extract_string", expressions=[node.this.copy(), path])
    if isinstance(node, exp.RegexpExtract) and "e" in (node.args.get("parameters") or exp.Literal.string("")).name:
        for arg in ("position", "occurrence"):
            value = node.args.get(arg)
            if value is not None and value.name != "1":
                raise ValueError(f"regexp_substr with {arg} {value.name}: no DuckDB translation here")
        group = exp.Literal.number(1)
        return exp.Anonymous(this="regexp_extract", expressions=[node.this.copy(), node.expression.copy(), group])
    return node


def _table_key(table: exp.Table) -> str:
    return ".".join(part.lower() for part in (table.catalog, table.db, table.name) if part)


def relation_key(relation_name: str, engine: str) -> str:
    """A relation name as dbt renders it for `engine` (`"db"."schema"."table"`), as the key `to_duckdb` maps."""
    return _table_key(exp.to_table(relation_name, dialect=DIALECTS[engine]))


def to_duckdb(sql: str, engine: str, tables: Mapping[str, str] | None = None) -> str:
    """`sql` as compiled for `engine` (athena or redshift), as DuckDB SQL with the same meaning. `tables` maps a
    relation (its `relation_key`) to the DuckDB relation to read instead; other relations are left as they are."""
    if engine not in ("athena", "redshift"):
        raise ValueError(f"no translation from {engine!r}; expected athena or redshift")
    renames = {key: exp.to_table(name, dialect="duckdb") for key, name in (tables or {}).items()}

    def rename(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Table) and renames:
            target = renames.get(_table_key(node))
            if target is not None:
                renamed = target.copy()
                if node.args.get("alias"):
                    renamed.set("alias", node.args["alias"].copy())
                return renamed
        return node

    statements = sqlglot.parse(sql, read=DIALECTS[engine])
    fixed = [s.transform(_replace_every_match).transform(rename) for s in statements if s is not None]
    if engine == "redshift":
        fixed = [s.transform(_redshift_fixes) for s in fixed]
    if engine == "athena":
        fixed = [s.transform(_athena_fixes) for s in fixed]
    return ";\n".join(s.sql(dialect="duckdb") for s in fixed)
