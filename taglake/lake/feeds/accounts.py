"""core_banking.accounts: daily change extract of product holdings (balances, openings, dormancy, closures)."""

from __future__ import annotations

from taglake.lake.feeds.customers import BAD_DATE_FORMATS, BAD_TIMESTAMP_FORMATS, sql_bad_date
from taglake.lake.population import (
    ACCOUNT_SERIALS,
    ACCOUNT_SLOTS,
    DAY_MICROS,
    sql_account_status,
    sql_balance,
    sql_balance_changes,
    sql_date,
    sql_timestamp_text,
)
from taglake.lake.feeds.table_gen import TableGen
from taglake.lake.params import LakeParams
from taglake.lake import reference as ref
from taglake.lake.sqlrand import below, lit, permute, uniform


class AccountsGen(TableGen):
    table_name = "core_banking.accounts"
    injected = (
        "missing_required",
        "wrong_type",
        "negative_amount",
        "absurd_amount",
        "exact_duplicate",
        "same_day_version",
    )
    max_dup_lag = 1
    order_by = ("account_id", "updated_at")

    def clean_sql(self, p: LakeParams, day: int) -> str:
        s, dn = p.seed, p.dn(day)
        if day == 0:
            where = f"open_dn <= {dn}"
            last_change = (
                f"case when close_dn <= {dn} then close_dn when dormant_dn <= {dn} then dormant_dn"
                f" else greatest(open_dn, {dn} - {below(s, 20, 'a', lit('lastchg'))}) end"
            )
            first = "true"
        else:
            where = (
                f"open_dn = {dn} or (open_dn < {dn} and close_dn >= {dn} and (close_dn = {dn}"
                f" or dormant_dn = {dn} or (dormant_dn > {dn} and {sql_balance_changes(s, str(dn))})))"
            )
            last_change = str(dn)
            first = f"open_dn = {dn}"
        return f"""
        with changed as (
            select *, {last_change} as upd_dn, {first} as _first
            from pop_accounts
            where {where}
        ), stamped as (
            select *,
                upd_dn * {DAY_MICROS} + (3600 + {below(s, 79200, "a", "upd_dn", lit("tod"))}) * 1000000
                    as _upd_micros,
                least({dn}, close_dn) as sdn
            from changed
        )
        select
            account_id,
            nid as national_id,
            product_type,
            product_code,
            {sql_account_status("sdn")} as account_status,
            {sql_date("open_dn")} as opened_date,
            case when close_dn <= {dn} then {sql_date("close_dn")} end as closed_date,
            {sql_balance(s, "sdn")}::varchar as balance_twd,
            credit_limit::decimal(18, 2)::varchar as credit_limit_twd,
            {sql_timestamp_text("_upd_micros")} as updated_at,
            account_id as _key,
            account_id || '|' || _upd_micros::varchar as _uid,
            _first, _upd_micros, a as _a,
            {sql_balance(s, "sdn")} as _balance
        from stamped
        """

    def extras_sql(self, p: LakeParams, day: int, src: str) -> str:
        s, slots = p.seed, p.customers * ACCOUNT_SLOTS
        cols = [c for c in self.spec.columns if c not in ("balance_twd", "updated_at")]
        earlier = f"_upd_micros - (60 + {below(s, 3000, '_uid', lit('earlier'))}) * 1000000"
        # an earlier version the same day: the balance before the last posting
        same_day = f"""
        select {", ".join(cols)},
            round(_balance * (0.5 + {uniform(s, "_uid", lit("prevbal"))}), 2)::decimal(18, 2)::varchar
                as balance_twd,
            {sql_timestamp_text(earlier)} as updated_at
        from {src} where _src_kind = 'same_day_version'
        """
        # Quarantined records are extra records under an account number no clean record has.
        fresh_serial = permute(
            s, f"{slots} + {below(s, ACCOUNT_SERIALS - slots, '_uid', lit('fresh'))}", ACCOUNT_SERIALS, "account"
        )
        fresh_id = f"left(account_id, 6) || lpad(({fresh_serial})::varchar, 8, '0')"
        required = self.spec.required

        bad_balance = f"""(case {below(s, 3, "_uid", lit("badbal"))}
            when 0 then 'N/A'
            when 1 then format('{{:,}}', floor(_balance)::bigint + 1000) || '.00'
            else replace((floor(_balance)::bigint + 1000)::varchar || '.00', '0', 'O') end)"""
        negative = f"(-(_balance + 100 + floor({uniform(s, '_uid', lit('neg'))} * 50000)))::decimal(18, 2)::varchar"
        absurd = f"""(case when {uniform(s, "_uid", lit("absurd?"))} < 0.3 then '999999999999.99'
            else ({ref.ABSURD_AMOUNT_TWD} * (1 + floor({uniform(s, "_uid", lit("absurd"))} * 99)))::decimal(18, 2)::varchar
            end)"""
        balance = f"""case _src_kind
            when 'wrong_type' then (case when _wc = 0 then {bad_balance} else balance_twd end)
            when 'negative_amount' then {negative}
            when 'absurd_amount' then {absurd}
            else balance_twd end"""
        bad_open = sql_bad_date(s, "opened_date", "_uid", BAD_DATE_FORMATS)
        bad_updated = sql_bad_date(s, "updated_at", "_uid", BAD_TIMESTAMP_FORMATS)
        updated = f"case when _src_kind = 'wrong_type' and _wc = 2 then {bad_updated} else updated_at end"
        quarantined = f"""
        select
            {self.missing_or("account_id", fresh_id)} as account_id,
            {self.missing_or("national_id", "national_id")} as national_id,
            {self.missing_or("product_type", "product_type")} as product_type,
            product_code,
            {self.missing_or("account_status", "account_status")} as account_status,
            case when _src_kind = 'wrong_type' and _wc = 1 then {bad_open} else opened_date end as opened_date,
            closed_date,
            {self.missing_or("balance_twd", balance)} as balance_twd,
            credit_limit_twd,
            {self.missing_or("updated_at", updated)} as updated_at
        from (
            select *,
                {below(s, len(required), "_uid", lit("misscol"))} as _mc,
                {below(s, 3, "_uid", lit("wrongcol"))} as _wc
            from {src}
            where _src_kind in ('missing_required', 'wrong_type', 'negative_amount', 'absurd_amount')
        )
        """
        return f"{same_day} union all by name {quarantined}"
