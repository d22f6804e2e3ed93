"""The masking benchmark's treatment throughput: each personal-data treatment's cost per row on DuckDB.

The expressions are the project's own macros (macros/privacy/), compiled once through dbt for the local target,
and evaluated over a synthetic table made inside DuckDB (nothing from a lake is read), with a one-row
`masking_keys` relation of random keys, exactly the shape the staging models join. Each query consumes its
result (`sum(length(...))`) so that DuckDB cannot skip the expression.
"""

from __future__ import annotations

import re
import secrets
import statistics
import time
from dataclasses import dataclass

import duckdb

from taglake.core.project import Project
from taglake.lake import reference
from taglake.privacy.dbt_runner import compile_inline

# The national IDs repeat: each distinct ID is on this many rows at most, like a card feed (45M rows over 1M
# customers is ~45; the benchmark default, 5M over 100k, is 50).
MAX_DISTINCT_IDS = 100_000
AS_OF = "date '2026-10-31'"

# The places come from the generator's reference lists (taglake.lake.reference); the domains are the benchmark's own
# (mixed case, reserved example domains: what the e-mail masking must fold).
DOMAINS = ["example.com", "Example.com.tw", "mail.example.org", "EXAMPLE.net"]


@dataclass(frozen=True)
class Treatment:
    """One treatment: the macro call (Jinja) it benchmarks, over which input columns, and how its output is
    consumed. `kind` is `row` (an expression per row of `src`) or `lookup` (token_lookup joined on the ID)."""

    name: str
    macros: tuple[str, ...]
    columns: tuple[str, ...]
    kind: str = "row"


TREATMENTS: tuple[Treatment, ...] = (
    Treatment("identity", ("src.national_id",), ("national_id",)),
    Treatment("tokenize", ("{{ tokenize('src.national_id', 'national_id') }}",), ("national_id",)),
    Treatment(
        "token_lookup_join", ("{{ token_lookup('src', 'national_id', 'national_id') }}",), ("national_id",), "lookup"
    ),
    Treatment("mask_mobile", ("{{ mask_mobile('src.mobile') }}",), ("mobile",)),
    Treatment("mask_email", ("{{ mask_email('src.email') }}",), ("email",)),
    Treatment("address_city_district", ("{{ address_city('src.address') }}", "{{ address_district('src.address') }}"),
              ("address",)),
    Treatment(
        "birth_year_age_band",
        ("{{ birth_year('src.birth_date') }}", f"{{{{ age_band('src.birth_date', \"{AS_OF}\") }}}}"),
        ("birth_date",),
    ),
)  # fmt: skip

_MARK = "/*@bench:{}@*/"


def compile_treatments(project: Project, treatments: tuple[Treatment, ...] = TREATMENTS) -> dict[str, list[str]]:
    """Each treatment's macro calls compiled for the local target, in one dbt invocation."""
    parts = []
    for t in treatments:
        for i, macro in enumerate(t.macros):
            parts.append(_MARK.format(f"{t.name}:{i}") + "\n" + macro)
    parts.append(_MARK.format("end"))
    compiled = compile_inline(project, "\n".join(parts), target="local")
    found = re.split(r"/\*@bench:([^@]+)@\*/", compiled)
    pieces = {found[i]: found[i + 1].strip() for i in range(1, len(found) - 1, 2)}
    out: dict[str, list[str]] = {}
    for t in treatments:
        out[t.name] = [pieces[f"{t.name}:{i}"] for i in range(len(t.macros))]
    return out


def _sql_list(values: list[str]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def synthetic_table_sql(rows: int) -> str:
    """`src`: `rows` rows of national IDs (over at most MAX_DISTINCT_IDS distinct values), mobiles in the three
    spellings the CRM lands, e-mails (mixed case, ~5% empty), Taiwanese addresses and birth dates (text, ~0.5%
    unparseable), all derived from seeded hashes of the row number."""
    distinct = max(1, min(MAX_DISTINCT_IDS, rows // 5))
    cities = [city.name for city in reference.CITIES]
    districts = [district for city in reference.CITIES for district in city.districts]
    streets = [street + section for street in reference.STREETS for section in reference.STREET_SECTIONS[:2]]
    nc, nd, ns, nm = len(cities), len(districts), len(streets), len(DOMAINS)
    cities, districts, streets, domains = (_sql_list(v) for v in (cities, districts, streets, DOMAINS))
    return f"""
        create or replace table src as
        with n as (
            select
                i,
                hash(i % {distinct}, 'nid') as h_id,
                hash(i, 'mobile') as h_mob,
                hash(i, 'email') as h_mail,
                hash(i, 'address') as h_addr,
                hash(i, 'birth') as h_birth
            from range({rows}) as r(i)
        ),
        parts as (
            select
                i,
                chr(65 + cast(h_id % 26 as integer))
                    || cast(1 + (h_id // 26) % 2 as varchar)
                    || lpad(cast((h_id // 52) % 100000000 as varchar), 8, '0') as national_id,
                lpad(cast(h_mob % 100000000 as varchar), 8, '0') as m8,
                h_mob // 100000000 % 3 as m_form,
                h_mail,
                h_addr,
                h_birth
            from n
        )
        select
            national_id,
            case m_form
                when 0 then '09' || m8
                when 1 then '09' || substr(m8, 1, 2) || '-' || substr(m8, 3, 3) || '-' || substr(m8, 6, 3)
                else '+886 9' || substr(m8, 1, 2) || ' ' || substr(m8, 3, 3) || ' ' || substr(m8, 6, 3)
            end as mobile,
            case
                when h_mail % 20 = 0 then ''
                when h_mail % 3 = 0 then 'User.' || cast(h_mail % 1000003 as varchar)
                else 'user' || cast(h_mail % 1000003 as varchar)
            end || case when h_mail % 20 = 0 then '' else '@' || {domains}[1 + cast(h_mail // 7 % {nm} as integer)] end
                as email,
            {cities}[1 + cast(h_addr % {nc} as integer)]
                || {districts}[1 + cast(h_addr // {nc} % {nd} as integer)]
                || {streets}[1 + cast(h_addr // {nc * nd} % {ns} as integer)]
                || cast(1 + h_addr // 3520 % 300 as varchar) || '號'
                || cast(1 + h_addr // 1056000 % 20 as varchar) || '樓' as address,
            case
                when h_birth % 200 = 0 then 'N/A'
                else strftime(date '1940-01-01' + cast(h_birth // 200 % 25000 as integer), '%Y-%m-%d')
            end as birth_date
        from parts
        order by i
    """


def treatment_query(treatment: Treatment, exprs: list[str]) -> str:
    """The timed query: every output of the treatment consumed, so DuckDB evaluates it on every row."""
    if treatment.kind == "lookup":
        return f"""
            with lookup as (
                {exprs[0]}
            )
            select sum(length(lookup.token))
            from src
            left join lookup on src.national_id = lookup.value
        """
    consumed = " + ".join(f"coalesce(sum(length(cast(({e}) as varchar))), 0)" for e in exprs)
    return f"select {consumed} from src cross join masking_keys"


def baseline_query(treatment: Treatment) -> str:
    """Reading the treatment's input columns, nothing else: what the treatment's overhead is measured against."""
    return "select " + " + ".join(f"sum(length(src.{c}))" for c in treatment.columns) + " from src"


def _timed(con: duckdb.DuckDBPyConnection, sql: str) -> float:
    start = time.perf_counter()
    con.execute(sql).fetchall()
    return time.perf_counter() - start


def treatment_throughput(project: Project, *, rows: int = 5_000_000, runs: int = 3) -> list[dict]:
    """Each treatment's throughput on DuckDB over `rows` synthetic rows: median seconds over `runs`, rows/s,
    ns/row, and the overhead in ns/row over reading the same input columns. The runs are interleaved (every
    treatment once, then again) so that a noisy spell does not hit one treatment only."""
    if rows < 1 or runs < 1:
        raise ValueError("rows and runs must be at least 1")
    compile_start = time.perf_counter()
    compiled = compile_treatments(project)
    compile_seconds = time.perf_counter() - compile_start
    with duckdb.connect(":memory:") as con:
        con.execute("set preserve_insertion_order = true")  # as the local target runs
        con.execute(
            "create table masking_keys as select '1' as key_version, ? as k_inner, ? as k_outer",
            [secrets.token_hex(32), secrets.token_hex(32)],
        )
        con.execute(synthetic_table_sql(rows))
        queries = {t.name: (treatment_query(t, compiled[t.name]), baseline_query(t)) for t in TREATMENTS}
        seconds: dict[str, list[float]] = {t.name: [] for t in TREATMENTS}
        base_seconds: dict[str, list[float]] = {t.name: [] for t in TREATMENTS}
        for _ in range(runs):
            for t in TREATMENTS:
                query, baseline = queries[t.name]
                seconds[t.name].append(_timed(con, query))
                base_seconds[t.name].append(_timed(con, baseline))
        distinct = con.execute("select count(distinct national_id) from src").fetchone()[0]
        threads = con.execute("select current_setting('threads')").fetchone()[0]
    results = []
    for t in TREATMENTS:
        median = statistics.median(seconds[t.name])
        base = statistics.median(base_seconds[t.name])
        results.append(
            {
                "treatment": t.name,
                "macros": list(t.macros),
                "columns": list(t.columns),
                "rows": rows,
                "runs": runs,
                "seconds": [round(s, 6) for s in seconds[t.name]],
                "seconds_median": median,
                "rows_per_second": rows / median,
                "ns_per_row": median / rows * 1e9,
                "baseline_seconds_median": base,
                "overhead_ns_per_row": (median - base) / rows * 1e9,
                "distinct_national_ids": distinct if "national_id" in t.columns else None,
                "duckdb_threads": threads,
                "compile_seconds": compile_seconds,
                "compiled_sql": compiled[t.name],
            }
        )
    return results
