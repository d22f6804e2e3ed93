"""crm.customers: the CRM's daily change extract (every customer on the first day, then new and changed ones)."""

from __future__ import annotations

from taglake.lake.population import (
    DAY_MICROS,
    ID_SERIALS,
    sql_address,
    sql_address_city,
    sql_date,
    sql_mobile,
    sql_mobile_digits,
    sql_mobile_format,
    sql_risk_grade,
    sql_timestamp_text,
)
from taglake.lake.feeds.table_gen import TableGen
from taglake.lake.params import LakeParams
from taglake.lake.national_id import sql_national_id
from taglake.lake.sqlrand import below, lit, permute

BAD_DATE_FORMATS = ("N/A", "0000-00-00", "%d/%m/%Y")
BAD_TIMESTAMP_FORMATS = ("N/A", "0000-00-00 00:00:00", "%d/%m/%Y %H:%M:%S")


def sql_bad_date(seed: int, text: str, salt_expr: str, formats: tuple[str, ...]) -> str:
    """A value that does not parse: a placeholder, or the same date day-first (``text`` is ISO)."""
    k = below(seed, len(formats), salt_expr, lit("badfmt"))
    whens = []
    for n, fmt in enumerate(formats):
        value = f"strftime(({text})::timestamp, {lit(fmt)})" if "%" in fmt else lit(fmt)
        whens.append(f"when {n} then {value}")
    return f"(case {k} {' '.join(whens)} end)"


class CustomersGen(TableGen):
    table_name = "crm.customers"
    injected = ("missing_required", "wrong_type", "invalid_checksum", "exact_duplicate", "same_day_version")
    max_dup_lag = 1
    order_by = ("national_id", "updated_at")

    def clean_sql(self, p: LakeParams, day: int) -> str:
        s, dn = p.seed, p.dn(day)
        if day == 0:
            # the full extract: every customer as of the first day, last changed before it
            where = f"join_dn <= {dn}"
            last_change = (
                f"case when close_dn <= {dn} then close_dn else greatest(since_dn,"
                f" {dn} - ({dn} + pha) % pa, {dn} - ({dn} + phm) % pm, {dn} - ({dn} + phr) % pr) end"
            )
            first = "true"
        else:
            where = (
                f"join_dn = {dn} or (join_dn < {dn} and close_dn >= {dn} and (close_dn = {dn}"
                f" or ({dn} + pha) % pa = 0 or ({dn} + phm) % pm = 0 or ({dn} + phr) % pr = 0))"
            )
            last_change = str(dn)
            first = f"join_dn = {dn}"
        return f"""
        with changed as (
            select *, least({dn}, close_dn) as vdn, {last_change} as upd_dn, {first} as _first
            from pop_customers
            where {where}
        ), versions as (
            select *, (vdn + pha) // pa as va, (vdn + phm) // pm as vm, (vdn + phr) // pr as vr
            from changed
        ), located as (
            select *, {sql_address_city(s, "va")} as city,
                {sql_mobile_digits(s, "vm")} as _mdigits, {sql_mobile_format(s, "vm")} as _mfmt,
                upd_dn * {DAY_MICROS} + (3600 + {below(s, 79200, "i", "upd_dn", lit("tod"))}) * 1000000
                    as _upd_micros
            from versions
        )
        select
            nid as national_id,
            name_zh,
            {sql_date("birth_dn")} as birth_date,
            gender,
            {sql_mobile("_mdigits", "_mfmt")} as mobile,
            email,
            {sql_address(s, "va", "city")} as address,
            home_branch,
            {sql_risk_grade(s, "vr")} as risk_grade,
            case when close_dn <= {dn} then 'closed' else 'active' end as customer_status,
            {sql_date("since_dn")} as customer_since,
            {sql_timestamp_text("_upd_micros")} as updated_at,
            nid as _key,
            nid || '|' || _upd_micros::varchar as _uid,
            _first, _mdigits, _mfmt, _upd_micros
        from located
        """

    def extras_sql(self, p: LakeParams, day: int, src: str) -> str:
        s, n = p.seed, p.customers
        cols = [c for c in self.spec.columns if c not in ("mobile", "updated_at")]
        earlier = f"_upd_micros - (60 + {below(s, 3000, '_uid', lit('earlier'))}) * 1000000"
        same_day = f"""
        select {", ".join(cols)},
            {sql_mobile("_mdigits", "(_mfmt + 1) % 3")} as mobile,
            {sql_timestamp_text(earlier)} as updated_at
        from {src} where _src_kind = 'same_day_version'
        """
        # Quarantined records are extra records with a national ID no clean record has (a fresh serial), so
        # they never hide or shadow a real customer; only the injected defect makes them unusable.
        fresh = permute(s, f"{n} + {below(s, ID_SERIALS - n, '_uid', lit('fresh'))}", ID_SERIALS, "nid")
        miss = below(s, len(self.spec.required), "_uid", lit("misscol"))
        wrong = below(s, 3, "_uid", lit("wrongcol"))

        def wrong_or(pos: int, col: str, formats: tuple[str, ...]) -> str:
            bad = sql_bad_date(s, col, "_uid", formats)
            return f"case when _src_kind = 'wrong_type' and _wc = {pos} then {bad} else {col} end"

        nid = sql_national_id(
            "left(national_id, 1)",
            "_fy // 10000000 + 1",
            "_fy % 10000000",
            f"case when _src_kind = 'invalid_checksum' then 1 + {below(s, 9, '_uid', lit('chk'))} else 0 end",
        )
        quarantined = f"""
        select
            {self.missing_or("national_id", nid)} as national_id,
            {self.missing_or("name_zh", "name_zh")} as name_zh,
            {self.missing_or("birth_date", wrong_or(0, "birth_date", BAD_DATE_FORMATS))} as birth_date,
            case when _fy // 10000000 = 0 then 'M' else 'F' end as gender,
            mobile, email, address, home_branch, risk_grade,
            {self.missing_or("customer_status", "customer_status")} as customer_status,
            {wrong_or(1, "customer_since", BAD_DATE_FORMATS)} as customer_since,
            {self.missing_or("updated_at", wrong_or(2, "updated_at", BAD_TIMESTAMP_FORMATS))} as updated_at
        from (
            select *, {fresh} as _fy, {miss} as _mc, {wrong} as _wc
            from {src}
            where _src_kind in ('missing_required', 'wrong_type', 'invalid_checksum')
        )
        """
        return f"{same_day} union all by name {quarantined}"
