"""The synthetic population: customers, their accounts and cards, as DuckDB temp tables.

Each row is a pure function of (seed, params, index): who the customer is, when they join, move, change phone,
get re-graded and close, which products they hold and how they spend. The daily extracts read these tables.
Moves, phone changes and risk reviews recur with a per-customer period and phase, so the version in force on any
day is computable without replaying history: version = floor((day + phase) / period).
"""

from __future__ import annotations

from datetime import date

import duckdb

from taglake.lake import reference as ref
from taglake.lake.params import LakeParams, day_number
from taglake.lake.national_id import sql_national_id
from taglake.lake.sqlrand import below, lit, lit_list, normal, permute, pick, uniform, weighted

ID_SERIALS = 20_000_000  # sex digit (2) × seven-digit serial
ACCOUNT_SLOTS = 5  # account index = customer index × 5 + k
ACCOUNT_SERIALS = 100_000_000
CARD_SERIALS = 100_000_000_000
NEVER = 2_147_483_647  # a day number that never comes
DAY_MICROS = 86_400_000_000
MAX_CLEAN_BALANCE = 95_000_000  # clean balances stay below the absurd-amount threshold
PRE_CLOSED_SHARE = 0.03  # customers already closed before the first day (still in the CRM extract)
CLOSE_MEAN_DAYS = 20_000  # about 1.8 % of customers close per year
TX_BASE_RATE = 0.325  # card transactions per card per day for an ordinary spender


def _cities_sql() -> tuple[str, str]:
    names = lit_list([c.name for c in ref.CITIES])
    districts = "[" + ", ".join(lit_list(c.districts) for c in ref.CITIES) + "]"
    return names, districts


CITY_NAMES_SQL, CITY_DISTRICTS_SQL = _cities_sql()
_CITY_INDEX = {c.name: n for n, c in enumerate(ref.CITIES)}


def sql_date(dn: str) -> str:
    """'YYYY-MM-DD' text of a day-number expression."""
    return f"(date '1970-01-01' + ({dn})::integer)::varchar"


def sql_timestamp(micros: str) -> str:
    """TIMESTAMP of a microseconds-since-epoch expression."""
    return f"make_timestamp(({micros})::bigint)"


def sql_timestamp_text(micros: str) -> str:
    return f"strftime({sql_timestamp(micros)}, '%Y-%m-%d %H:%M:%S')"


def sql_mobile(digits: str, fmt: str) -> str:
    """A mobile number in one of three spellings: 0912345678, 0912-345-678, +886 912 345 678."""
    d = digits
    return (
        f"(case ({fmt}) when 0 then {d}"
        f" when 1 then substr({d}, 1, 4) || '-' || substr({d}, 5, 3) || '-' || substr({d}, 8, 3)"
        f" else '+886 ' || substr({d}, 2, 3) || ' ' || substr({d}, 5, 3) || ' ' || substr({d}, 8, 3) end)"
    )


def sql_mobile_digits(seed: int, version: str) -> str:
    return (
        f"('09' || (1 + {below(seed, 8, 'i', version, lit('mob1'))})::varchar"
        f" || lpad({below(seed, 10_000_000, 'i', version, lit('mob2'))}::varchar, 7, '0'))"
    )


def sql_mobile_format(seed: int, version: str) -> str:
    return weighted([("0", 60), ("1", 25), ("2", 15)], uniform(seed, "i", version, lit("mobfmt")), raw=True)


def sql_risk_grade(seed: int, version: str) -> str:
    return weighted(ref.RISK_GRADES, uniform(seed, "i", version, lit("risk")))


def sql_address_city(seed: int, version: str) -> str:
    """City index (0-based) where the customer lives at address version ``version``."""
    city = weighted(
        [(str(n), c.weight) for n, c in enumerate(ref.CITIES)], uniform(seed, "i", version, lit("city")), raw=True
    )
    return f"(case when {uniform(seed, 'i', version, lit('samecity'))} < 0.7 then reg_city else {city} end)"


def sql_address(seed: int, version: str, city: str) -> str:
    """Full address text at address version ``version`` in city index ``city``."""
    u = lambda salt: uniform(seed, "i", version, lit(salt))  # noqa: E731
    districts = f"{CITY_DISTRICTS_SQL}[{city} + 1]"
    section = f"(case when {u('sec?')} < 0.5 then {pick(ref.STREET_SECTIONS, u('sec'))} else '' end)"
    lane = f"(case when {u('lane?')} < 0.2 then (1 + floor({u('lane')} * 300)::int)::varchar || '巷' else '' end)"
    floor_ = f"(case when {u('floor?')} < 0.6 then (2 + floor({u('floor')} * 24)::int)::varchar || '樓' else '' end)"
    return (
        f"({CITY_NAMES_SQL}[{city} + 1] || {districts}[1 + floor({u('district')} * len({districts}))::int]"
        f" || {pick(ref.STREETS, u('street'))} || {section} || {lane}"
        f" || (1 + floor({u('number')} * 400)::int)::varchar || '號' || {floor_})"
    )


def create_population(con: duckdb.DuckDBPyConnection, p: LakeParams) -> None:
    """Create pop_customers, pop_accounts and pop_cards for these parameters."""
    _create_customers(con, p)
    _create_accounts(con, p)
    _create_cards(con, p)


def _create_customers(con: duckdb.DuckDBPyConnection, p: LakeParams) -> None:
    s, n, n0 = p.seed, p.customers, p.initial_customers
    start, end = p.start_dn, p.last_dn
    u = lambda salt: uniform(s, "i", lit(salt))  # noqa: E731
    b = lambda k, salt: below(s, k, "i", lit(salt))  # noqa: E731

    letters = weighted([(ltr, w) for ltr, _, w in ref.ID_LETTERS], u("letter"))
    reg_city = (
        "(case letter " + " ".join(f"when '{ltr}' then {_CITY_INDEX[c]}" for ltr, c, _ in ref.ID_LETTERS) + " end)"
    )
    surname_idx = weighted([(str(k), w) for k, (_, _, w) in enumerate(ref.SURNAMES)], u("surname"), raw=True)
    surnames = lit_list([sn for sn, _, _ in ref.SURNAMES])
    surname_roman = lit_list([r for _, r, _ in ref.SURNAMES])
    male, female = ref.GIVEN_MALE, ref.GIVEN_FEMALE
    n_given = len(male)
    assert len(female) == n_given
    nbmp = ref.GIVEN_NON_BMP
    epoch_1985 = day_number(date(1985, 1, 1))
    domain = weighted(ref.EMAIL_DOMAINS, u("domain"))
    n_acc = weighted([(str(k), w) for k, w in ref.ACCOUNTS_PER_CUSTOMER], u("naccounts"), raw=True)
    wallet = weighted(ref.WALLET_PREFERENCE, u("wallet"))
    ios_models, ios_versions = ref.DEVICES["iOS"]
    and_models, and_versions = ref.DEVICES["Android"]
    app_p = weighted([("0.013", 60), ("0.052", 30), ("0.16", 10)], u("appuse"), raw=True)  # chance of a session a day

    sql = f"""
    create or replace temp table pop_customers as
    with ids as (
        select range as i from range({p.population})
    ), base as (
        select i,
            {permute(s, "i", ID_SERIALS, "nid")} as y,
            {letters} as letter
        from ids
    ), named as (
        select i, letter, 1 + y // 10000000 as sex, y % 10000000 as serial,
            {reg_city} as reg_city,
            {surname_idx} as sidx,
            1 + floor({u("g1")} * {n_given})::int as g1,
            1 + floor({u("g2")} * {n_given})::int as g2,
            {u("glen")} < 0.08 as one_given,
            {u("nbmp")} < {ref.NON_BMP_NAME_SHARE} as has_nbmp,
            1 + floor({u("nbmpchar")} * {len(nbmp)})::int as nb,
            20 + 65 * pow(({u("age1")} + {u("age2")}) / 2, 1.3) as age
        from base
    ), given as (
        select *,
            case when sex = 1 then {lit_list([c for c, _ in male])} else {lit_list([c for c, _ in female])} end
                as chars,
            case when sex = 1 then {lit_list([r for _, r in male])} else {lit_list([r for _, r in female])} end
                as romans
        from named
    ), people as (
        select i, letter, sex, serial, reg_city,
            {sql_national_id("letter", "sex", "serial")} as nid,
            case when sex = 1 then 'M' else 'F' end as gender,
            {surnames}[sidx + 1] as surname,
            {surname_roman}[sidx + 1] as surname_roman,
            case when one_given then (case when has_nbmp then {lit_list([c for c, _ in nbmp])}[nb] else chars[g1] end)
                 else chars[g1] || (case when has_nbmp then {lit_list([c for c, _ in nbmp])}[nb] else chars[g2] end)
            end as given,
            case when one_given then (case when has_nbmp then {lit_list([r for _, r in nbmp])}[nb] else romans[g1] end)
                 else romans[g1] || (case when has_nbmp then {lit_list([r for _, r in nbmp])}[nb] else romans[g2] end)
            end as given_roman,
            {start} - floor(age * 365.25)::bigint - {b(365, "bday")} as birth_dn,
            case when i < {n0} then {start}
                 when i < {n} then {start} + 1 + ((i - {n0}) * {max(p.days - 1, 1)}) // {max(n - n0, 1)}
                 else {start} + {p.days} + (i - {n}) // {p.new_per_appended_day} end as join_dn
        from given
    ), joined as (
        select *,
            case when i < {n0} then greatest(birth_dn + 6575, {epoch_1985}) else join_dn end as since_lo
        from people
    ), lifetimes as (
        select *,
            case when i < {n0} then since_lo + {below(s, f"greatest({start} - since_lo, 1)", "i", lit("since"))}
                 else join_dn end as since_dn
        from joined
    ), closing as (
        select *,
            case when i < {n0} and {u("preclose")} < {PRE_CLOSED_SHARE}
                 then since_dn + 1 + {below(s, f"greatest({start} - since_dn - 1, 1)", "i", lit("closeday"))}
                 else join_dn + 1 + floor(-ln(greatest({u("close")}, 1e-12)) * {CLOSE_MEAN_DAYS})::bigint
            end as close_dn,
            900 + {b(4000, "pa")} as pa, 600 + {b(3000, "pm")} as pm, 365 + {b(366, "pr")} as pr,
            {normal(u("w1"), u("w2"))} as wz,
            {normal(u("r1"), u("r2"))} as rz,
            {u("hnw")} < 0.01 as hnw,
            {u("heavy")} < 0.03 as heavy
        from lifetimes
    )
    select i, nid, letter, sex, gender, reg_city,
        surname || given as name_zh,
        case when {u("noemail")} < 0.05 then null
             else (case when {u("emailcase")} < 0.1 then upper(left(email_local, 1)) || substr(email_local, 2)
                        else email_local end)
                  || '@' || (case when {u("emailcase")} < 0.03 then upper(left({domain}, 1)) || substr({domain}, 2)
                                  else {domain} end)
        end as email,
        printf('%02d%02d', reg_city + 1, 1 + {b(25, "branch")}) as home_branch,
        birth_dn, since_dn, join_dn, close_dn,
        pa, {below(s, "pa", "i", lit("pha"))} as pha,
        pm, {below(s, "pm", "i", lit("phm"))} as phm,
        pr, {below(s, "pr", "i", lit("phr"))} as phr,
        hnw,
        case when hnw then 12000000 + {u("hnwamt")} * 50000000 else least(exp(11.3 + 1.5 * wz), 11000000) end
            as wealth,
        {n_acc} as n_acc,
        {u("digital")} < (case when ({start} - birth_dn) < 14610 then 0.6
                               when ({start} - birth_dn) < 21915 then 0.35 else 0.12 end) as is_digital,
        {app_p} as app_p,
        {u("os")} < 0.45 as is_ios,
        {b(4, "applag")} as app_lag,
        {u("devmodel")} as u_model,
        {u("osver")} as u_osver,
        {u("travel")} < (case when hnw then 0.6 else 0.25 end) as traveller,
        60 + {b(180, "tripper")} as trip_period,
        3 + {b(7, "triplen")} as trip_len,
        {wallet} as wallet_pref,
        heavy,
        case when heavy then 8.0 else exp(0.6 * rz - 0.18) end as rate_mult,
        case when heavy then 2.5 when hnw then 1.8 else 1.0 end as amount_mult
    from (
        select *,
            case {b(4, "emailpat")}
                when 0 then given_roman || '.' || surname_roman
                when 1 then surname_roman || given_roman || substr({sql_date("birth_dn")}, 3, 2)
                when 2 then left(given_roman, 1) || surname_roman || (10 + {b(990, "emailnum")})::varchar
                else surname_roman || '.' || given_roman || '_' || {b(100, "emailnum2")}::varchar
            end as email_local
        from closing
    )
    """
    con.execute(sql)
    # derived columns that depend on the above
    con.execute(
        f"""
        create or replace temp table pop_customers as
        select *,
            {below(s, "trip_period", "i", lit("tripphase"))} as trip_phase,
            case when is_ios then {lit_list(ios_models)}[1 + floor(u_model * {len(ios_models)})::int]
                 else {lit_list(and_models)}[1 + floor(u_model * {len(and_models)})::int] end as device_model,
            case when is_ios then {lit_list(ios_versions)}[1 + floor(u_osver * {len(ios_versions)})::int]
                 else {lit_list(and_versions)}[1 + floor(u_osver * {len(and_versions)})::int] end as os_version
        from pop_customers
        where join_dn <= {end}
        """
    )


def _create_accounts(con: duckdb.DuckDBPyConnection, p: LakeParams) -> None:
    s, start, end = p.seed, p.start_dn, p.end_dn
    u = lambda salt: uniform(s, "a", lit(salt))  # noqa: E731
    b = lambda k, salt: below(s, k, "a", lit(salt))  # noqa: E731
    ptype = weighted(ref.EXTRA_PRODUCT_WEIGHTS, u("ptype"))
    codes = ref.PRODUCT_CODES
    type_digits = (
        "(case product_type " + " ".join(f"when '{t}' then '{d}'" for t, d in ref.PRODUCT_TYPE_DIGITS.items()) + " end)"
    )
    # a product opened after the customer joined (before they left, and possibly during the history)
    opened_after = below(s, f"greatest(least(cust_close_dn, {end} + 1) - since_dn, 1)", "a", lit("open"))
    loan_code = weighted([("LN-MORTGAGE", 40), ("LN-PERSONAL", 40), ("LN-AUTO", 20)], u("loancode"))
    card_code = (
        "case when wealth < 300000 then 'CC-CLASSIC' when wealth < 2000000 then 'CC-GOLD'"
        " when wealth < 15000000 then 'CC-PLATINUM' else 'CC-INFINITE' end"
    )
    sql = f"""
    create or replace temp table pop_accounts as
    with slots as (
        select i, nid, home_branch, since_dn, join_dn, close_dn as cust_close_dn, wealth, hnw,
            unnest(range(n_acc)) as k
        from pop_customers
    ), typed as (
        select *, i * {ACCOUNT_SLOTS} + k as a
        from slots
    ), products as (
        select *,
            case when k = 0 then 'deposit' else {ptype} end as product_type
        from typed
    ), coded as (
        select *,
            case product_type
                when 'deposit' then (case when k = 0 then 'DEP-SAV' else {pick(codes["deposit"], u("depcode"))} end)
                when 'credit_card' then {card_code}
                when 'loan' then {loan_code}
                when 'wealth' then {pick(codes["wealth"], u("wmcode"))}
                else {pick(codes["insurance"], u("inscode"))}
            end as product_code,
            case when k = 0 then since_dn else since_dn + {opened_after} end as open_dn
        from products
    ), lived as (
        select *,
            case product_code when 'LN-MORTGAGE' then 7300 when 'LN-PERSONAL' then 1825
                              when 'LN-AUTO' then 1825 else 0 end as term_days,
            30 + floor(-ln(greatest({u("life")}, 1e-12)) * (case product_type
                when 'deposit' then 9000 when 'credit_card' then 5000 when 'loan' then 6000
                when 'wealth' then 3000 else 12000 end))::bigint as lifetime
        from coded
    )
    select a, i, k, nid,
        home_branch || {type_digits} || lpad({permute(s, "a", ACCOUNT_SERIALS, "account")}::varchar, 8, '0')
            as account_id,
        product_type, product_code, open_dn,
        least(open_dn + (case when term_days > 0 then least(term_days, lifetime) else lifetime end), cust_close_dn)
            as close_dn,
        case when product_type in ('deposit', 'wealth') and {u("dormant?")} < 0.15
             then open_dn + 365 + {b(3000, "dormant")} else {NEVER} end as dormant_dn,
        term_days,
        case product_type
            when 'deposit' then (case when k = 0 then wealth * (0.3 + 0.5 * {u("base")})
                                      else wealth * 0.4 * {u("base")} end)
            when 'credit_card' then 0
            when 'loan' then (case product_code
                when 'LN-MORTGAGE' then (3000000 + 12000000 * {u("base")}) * (case when hnw then 2.5 else 1 end)
                when 'LN-PERSONAL' then 100000 + 1400000 * {u("base")}
                else 300000 + 1200000 * {u("base")} end)
            when 'wealth' then wealth * (0.3 + 0.7 * {u("base")})
            else 50000 + (case when hnw then 20000000 else 2000000 end) * {u("base")}
        end as base_twd,
        case when product_type = 'credit_card'
             then least(greatest(round((30000 + 150000 * pow({u("limit")}, 1.5) + wealth * 0.25 * {u("limit2")})
                                       / 10000) * 10000, 30000), 2000000)
        end as credit_limit,
        case product_type when 'deposit' then 0.015 when 'credit_card' then 0.02 when 'wealth' then 0.005
                          else 0 end as p_change
    from lived
    where open_dn <= {end}
    """
    con.execute(sql)
    # accounts closed long before the first day are no longer in the extract
    con.execute(f"delete from pop_accounts where close_dn <= {start - 730}")


def _create_cards(con: duckdb.DuckDBPyConnection, p: LakeParams) -> None:
    s = p.seed
    con.execute(
        f"""
        create or replace temp table pop_cards as
        select a.a, a.i, a.nid, a.open_dn, a.close_dn,
            'C' || lpad({permute(s, "a.a", CARD_SERIALS, "card")}::varchar, 11, '0') as card_id,
            c.traveller, c.trip_period, c.trip_phase, c.trip_len, c.wallet_pref, c.amount_mult,
            {TX_BASE_RATE} * c.rate_mult as lam,
            least(16, 1 + ceil(3 * {TX_BASE_RATE} * c.rate_mult))::integer as slots
        from pop_accounts a join pop_customers c using (i)
        where a.product_type = 'credit_card'
        """
    )


def sql_balance(seed: int, dn: str) -> str:
    """Balance (DECIMAL(18,2)) of a pop_accounts row on day number ``dn``, given its status that day."""
    u = uniform(seed, "a", dn, lit("bal"))
    raw = f"""(case
        when {dn} >= close_dn then 0
        when {dn} >= dormant_dn then base_twd * 0.02
        when product_type = 'deposit' then base_twd * (0.6 + 0.8 * {u})
        when product_type = 'credit_card' then credit_limit * 0.45 * pow({u}, 2)
        when product_type = 'loan' then base_twd * greatest(0.02, 1 - ({dn} - open_dn) / term_days)
        when product_type = 'wealth' then base_twd * (0.85 + 0.3 * {u})
        else base_twd * (1 + 0.3 * ({dn} - open_dn) / 3650)
    end)"""
    return f"round(least({raw}, {MAX_CLEAN_BALANCE}), 2)::decimal(18, 2)"


def sql_account_status(dn: str) -> str:
    return f"(case when {dn} >= close_dn then 'closed' when {dn} >= dormant_dn then 'dormant' else 'active' end)"


def sql_balance_changes(seed: int, dn: str) -> str:
    """True when an active pop_accounts row's balance changes on day number ``dn``."""
    return (
        f"(case product_type when 'loan' then ({dn} - open_dn) % 30 = 0"
        f" when 'insurance' then ({dn} - open_dn) % 90 = 0"
        f" else {uniform(seed, 'a', dn, lit('chg'))} < p_change end)"
    )
