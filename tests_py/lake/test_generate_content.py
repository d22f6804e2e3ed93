"""What the clean records look like: the shapes, codes and behaviour docs/raw-zone.md promises."""

import re
from collections import Counter, defaultdict
from datetime import date

import duckdb
import pytest
import raw_lake as expected
from raw_lake import clean_values, partition_files, rank_auc, read_file, read_records

from taglake.lake import reference as ref
from taglake.lake.generate import generate_lake
from taglake.lake.params import LakeParams
from taglake.lake.population import create_population
from taglake.lake.raw_tables import ACCOUNTS, APP_EVENTS, CUSTOMERS, MODEL_OUTCOMES, MODEL_SCORES, TRANSACTIONS

MOBILE_SPELLINGS = (r"09\d{8}", r"09\d{2}-\d{3}-\d{3}", r"\+886 9\d{2} \d{3} \d{3}")
MOBILE = re.compile("|".join(MOBILE_SPELLINGS))
EMAIL = re.compile(r"[A-Za-z0-9._]+@[A-Za-z0-9.]+\.[a-z]{2,}", re.IGNORECASE)
SEMVER = re.compile(r"\d+\.\d+\.\d+")
DISTRICTS = {c.name: c.districts for c in ref.CITIES}


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    out = tmp_path_factory.mktemp("lake")
    manifest = generate_lake(out, customers=400, days=12, end_date=date(2026, 3, 5), defect_rate=0.02, progress=False)
    return out, manifest


def test_customers_look_like_taiwanese_customers(lake):
    out, _ = lake
    rows = clean_values(out, CUSTOMERS)
    assert rows
    for row in rows:
        assert row["gender"] == {"1": "M", "2": "F"}[row["national_id"][1]]
        assert 2 <= len(row["name_zh"]) <= 4
        assert MOBILE.fullmatch(row["mobile"]), row["mobile"]
        assert row["email"] == "" or EMAIL.fullmatch(row["email"]), row["email"]
        city = row["address"][:3]
        assert city in DISTRICTS, row["address"]
        assert any(row["address"][3:].startswith(d) for d in DISTRICTS[city]), row["address"]
        assert re.fullmatch(r"\d{4}", row["home_branch"])
        assert row["risk_grade"] in {g for g, _ in ref.RISK_GRADES}
        assert row["customer_status"] in expected.CUSTOMER_STATUSES
        assert row["birth_date"] < row["customer_since"] <= row["updated_at"][:10]
    spellings = {next(n for n, p in enumerate(MOBILE_SPELLINGS) if re.fullmatch(p, r["mobile"])) for r in rows}
    assert spellings == {0, 1, 2}  # every written form occurs
    assert len({r["address"][:3] for r in rows}) >= 10


def test_customers_join_over_time_and_later_extracts_hold_only_changes(lake):
    out, manifest = lake
    files = partition_files(out, CUSTOMERS)
    first_seen: dict[str, date] = {}
    per_day = Counter()
    for day, path in files:
        for row in read_file(CUSTOMERS, path):
            per_day[day] += 1
            first_seen.setdefault(row["national_id"], day)
    start = files[0][0]
    customers = manifest["params"]["customers"]
    joined_later = [nid for nid, d in first_seen.items() if d > start]
    assert 0 < len(joined_later) < 0.1 * customers
    assert per_day[start] > 0.9 * customers
    assert all(per_day[d] < 0.2 * customers for d, _ in files[1:])
    statuses = Counter(r["customer_status"] for r in clean_values(out, CUSTOMERS))
    assert statuses["closed"] > 0 and statuses["active"] > statuses["closed"]


def test_accounts_hold_products_with_consistent_fields(lake):
    out, _ = lake
    rows = clean_values(out, ACCOUNTS)
    per_customer = defaultdict(set)
    for row in rows:
        assert row["product_type"] in expected.PRODUCT_TYPES
        assert row["product_code"] in ref.PRODUCT_CODES[row["product_type"]]
        assert row["account_status"] in expected.ACCOUNT_STATUSES
        assert (row["credit_limit_twd"] != "") == (row["product_type"] == "credit_card")
        assert (row["closed_date"] != "") == (row["account_status"] == "closed")
        assert re.fullmatch(r"\d{14}", row["account_id"])
        assert 0 <= float(row["balance_twd"]) < ref.ABSURD_AMOUNT_TWD
        per_customer[row["national_id"]].add(row["account_id"])
    assert {len(a) for a in per_customer.values()} <= {1, 2, 3, 4, 5}
    assert {r["product_type"] for r in rows} == set(expected.PRODUCT_TYPES)


def test_card_transactions_are_domestic_in_twd_and_abroad_in_foreign_currency(lake):
    out, _ = lake
    rows = clean_values(out, TRANSACTIONS)
    mccs = {m.code for m in ref.MCCS}
    for row in rows:
        assert (row["currency"] == "TWD") == (row["merchant_country"] == "TW"), row
        assert row["merchant_category_code"] in mccs
        assert row["channel"] in expected.CHANNELS
        assert row.get("wallet_type") in (None, *expected.WALLET_TYPES)
        assert 0 < row["amount"] < ref.ABSURD_AMOUNT_TWD
    currencies = Counter(r["currency"] for r in rows)
    assert currencies.most_common(1)[0][0] == "TWD"
    assert len(currencies) > 1
    assert len({r["merchant_category_code"] for r in rows}) > 10


def test_app_sessions_start_with_a_login_and_pages_fit_event_types(lake):
    out, _ = lake
    events = clean_values(out, APP_EVENTS)
    assert events
    for event in events:
        assert event["event_type"] in expected.APP_EVENT_TYPES
        assert (event["page"] is not None) == (event["event_type"] == "page_view")
        assert (event["product_code"] is not None) == (event["event_type"] == "product_view")
        assert tuple(event["device"]) == expected.DEVICE_KEYS
        assert event["device"]["os"] in ref.DEVICES
    first_of_day: dict[tuple[str, str], dict] = {}
    for event in sorted(events, key=lambda e: e["event_at"]):
        first_of_day.setdefault((event["national_id"], event["event_at"][:10]), event)
    logins = Counter(e["event_type"] for e in first_of_day.values())
    assert logins["login"] > 0.9 * sum(logins.values())  # late arrivals may break a session apart


def test_every_model_scores_active_customers_on_each_scoring_day(lake):
    out, manifest = lake
    rows = clean_values(out, MODEL_SCORES)
    runs = defaultdict(set)
    for row in rows:
        assert SEMVER.fullmatch(row["model_version"])
        assert 0 <= row["score"] <= 1
        runs[(row["model_name"], row["scored_at"].date())].add((row["model_version"], row["scored_at"]))
    days = {d for d, _ in partition_files(out, MODEL_SCORES)}
    assert days == {date(2026, 2, 22), date(2026, 3, 1)}  # the first day, then the first of each month
    assert set(runs) == {(m, d) for m in ref.MODEL_NAMES for d in days}
    assert all(len(v) == 1 for v in runs.values())  # one version and one batch timestamp per run
    scored = Counter((r["model_name"], r["scored_at"].date()) for r in rows)
    assert min(scored.values()) > 0.85 * manifest["params"]["customers"]


def test_outcomes_judge_each_scored_customer_a_week_later_and_the_scores_predict_them(lake):
    out, _ = lake
    scores = {
        (r["national_id"], r["model_name"], r["scored_at"].date().replace(day=1)): r["score"]
        for r in clean_values(out, MODEL_SCORES)
    }
    outcomes = clean_values(out, MODEL_OUTCOMES)
    assert {d for d, _ in partition_files(out, MODEL_OUTCOMES)} == {date(2026, 3, 1)}  # 2026-02-22's run + 7 days
    assert {r["label"] for r in outcomes} == {0, 1}
    assert {r["outcome_month"] for r in outcomes} == {date(2026, 2, 1)}
    keys = [(r["national_id"], r["model_name"], r["outcome_month"]) for r in outcomes]
    assert set(keys) == {k for k in scores if k[2] == date(2026, 2, 1)}  # every customer and model the run scored
    for model in ref.MODEL_NAMES:
        pairs = [(scores[k], r["label"]) for k, r in zip(keys, outcomes, strict=True) if k[1] == model]
        assert 0.55 < rank_auc(pairs) < 0.95, model  # the scores predict the outcome, not perfectly


def test_outcome_strength_differs_between_versions():
    from taglake.lake.feeds.model_outcomes import version_strength

    strengths = {v: version_strength(v) for v in ("4.1.0", "4.1.1", "3.2.0", "6.4.0", "1.0.0")}
    assert all(0.35 <= s <= 0.95 for s in strengths.values())
    assert len(set(strengths.values())) > 1


def test_model_versions_change_over_time():
    from taglake.lake.feeds.model_scores import model_version

    for model in ref.MODEL_NAMES:
        versions = [model_version(model, date(2025, m, 1)) for m in range(1, 13)]
        assert len(set(versions)) > 1
        as_tuples = [tuple(map(int, v.split("."))) for v in versions]
        assert as_tuples == sorted(as_tuples)


def test_the_population_has_rare_names_and_a_wealthy_tail():
    con = duckdb.connect()
    params = LakeParams(seed=42, customers=20_000, days=30, end_date=date(2026, 10, 31), defect_rate=0.01)
    create_population(con, params)
    non_bmp, total = con.execute(
        "select count(*) filter (where regexp_matches(name_zh, '[\\x{20000}-\\x{2FFFF}]')), count(*) from pop_customers"
    ).fetchone()
    assert 0 < non_bmp < 0.02 * total
    rich = con.execute("select count(*) from pop_customers where wealth >= 10000000").fetchone()[0]
    assert 0 < rich < 0.03 * total
    counts = dict(con.execute("select n_acc, count(*) from pop_customers group by 1").fetchall())
    assert set(counts) == {1, 2, 3, 4, 5}


def test_the_heavy_spender_tail_exists(lake):
    out, _ = lake
    per_holder = Counter(r.value["national_id"] for r in read_records(out, TRANSACTIONS) if r.value["national_id"])
    counts = sorted(per_holder.values())
    median = counts[len(counts) // 2]
    assert counts[-1] > 8 * median


def test_reference_data_the_generator_draws_from_is_the_projects_seed_data() -> None:
    # One list each: what the generator emits must be what staging validates and categorises against.
    from taglake.core.sources import project_var, read_seed

    seed_mccs = {row["merchant_category_code"] for row in read_seed("ref_merchant_categories")}
    assert {m.code for m in ref.MCCS} <= seed_mccs
    seed_currencies = {row["currency_code"] for row in read_seed("ref_currencies")}
    assert {d.currency for d in (*ref.DESTINATIONS, *ref.ONLINE_ABROAD)} <= seed_currencies
    assert not seed_currencies & set(ref.UNKNOWN_CURRENCY_CODES)
    assert project_var("absurd_amount_twd") == ref.ABSURD_AMOUNT_TWD
