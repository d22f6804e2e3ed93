"""cards.transactions: card authorisations, one Parquet file per landing day."""

from __future__ import annotations

from taglake.lake import reference as ref
from taglake.lake.feeds.table_gen import TableGen
from taglake.lake.params import LakeParams
from taglake.lake.raw_tables import WALLET_COLUMN
from taglake.lake.sqlrand import below, lit, lit_list, normal, permute, pick, uniform, weighted

TX_ID_SPACE = 10**16
FRESH_TX_OFFSET = 5 * 10**15  # quarantined records' transaction IDs come from this half of the space
MAX_CLEAN_TWD = 2_000_000  # no clean authorisation is larger (TWD-equivalent) …
MAX_CLEAN_UNITS = 90_000_000  # … nor this many units of its currency, so raw and TWD checks agree
MAX_LATE_DAYS = 5
ONLINE_ABROAD_SHARE = 0.08  # of online spend where merchants abroad are common

# where the money goes: index 0 is home, then trips abroad, then online merchants abroad
_PLACES = (
    (ref.HOME_COUNTRY, ref.HOME_CURRENCY),
    *((d.country, d.currency) for d in ref.DESTINATIONS),
    *((d.country, d.currency) for d in ref.ONLINE_ABROAD),
)
_TRIP_BASE, _ONLINE_BASE = 1, 1 + len(ref.DESTINATIONS)


def _place_lists() -> dict[str, str]:
    rates = [ref.FX_TWD_PER_UNIT[cur] for _, cur in _PLACES]
    whole = [cur in ref.ZERO_DECIMAL_CURRENCIES or cur == ref.HOME_CURRENCY for _, cur in _PLACES]
    caps = [min(MAX_CLEAN_TWD, MAX_CLEAN_UNITS * r) for r in rates]
    return {
        "country": lit_list([c for c, _ in _PLACES]),
        "currency": lit_list([cur for _, cur in _PLACES]),
        "rate": "[" + ", ".join(f"{r!r}::double" for r in rates) + "]",
        "whole": "[" + ", ".join("true" if w else "false" for w in whole) + "]",
        "cap": "[" + ", ".join(f"{c!r}::double" for c in caps) + "]",
    }


class TransactionsGen(TableGen):
    table_name = "cards.transactions"
    injected = (
        "missing_required",
        "negative_amount",
        "absurd_amount",
        "unknown_currency",
        "exact_duplicate",
        "late_arrival",
    )
    max_dup_lag = 2
    order_by = ("transaction_at", "transaction_id")

    def has_wallet(self, p: LakeParams, day: int) -> bool:
        return day >= p.schema_change_day

    def file_columns(self, p: LakeParams, day: int) -> tuple[str, ...]:
        cols = self.spec.columns
        return cols if self.has_wallet(p, day) else tuple(c for c in cols if c != WALLET_COLUMN)

    def dup_lag_limit(self, p: LakeParams, day: int) -> int:
        limit = super().dup_lag_limit(p, day)
        if day < p.schema_change_day:  # a copy never crosses the schema change
            limit = min(limit, p.schema_change_day - 1 - day)
        return max(0, limit)

    def clean_sql(self, p: LakeParams, day: int) -> str:
        s, dn = p.seed, p.dn(day)
        weekend = 1.15 if p.date_of(day).weekday() >= 5 else 0.94
        u = lambda salt: uniform(s, "a", str(dn), "k", lit(salt))  # noqa: E731
        mccs = ref.MCCS
        mcc_idx = weighted([(str(n), m.weight) for n, m in enumerate(mccs)], u("mcc"), raw=True)
        channel = "case mi " + " ".join(f"when {n} then {weighted(m.channels, 'u_ch')}" for n, m in enumerate(mccs))
        foreign_online = "[" + ", ".join("true" if m.foreign_online else "false" for m in mccs) + "]"
        medians = "[" + ", ".join(f"{m.median_twd!r}::double" for m in mccs) + "]"
        trip_dest = weighted(
            [(str(_TRIP_BASE + n), d.weight) for n, d in enumerate(ref.DESTINATIONS)],
            uniform(s, "i", "trip_no", lit("dest")),
            raw=True,
        )
        online_dest = weighted(
            [(str(_ONLINE_BASE + n), d.weight) for n, d in enumerate(ref.ONLINE_ABROAD)], u("onlinedest"), raw=True
        )
        pl = _place_lists()
        wallet = (
            "case channel"
            f" when 'contactless' then (case when wallet_pref <> 'none' and {u('wallet')} < 0.85"
            "   then wallet_pref else 'none' end)"
            f" when 'online' then (case when wallet_pref in ('apple_pay', 'google_pay') and {u('wallet')} < 0.2"
            "   then wallet_pref else 'none' end)"
            " else 'none' end"
        )
        tx_x = f"{dn}::bigint * 400000000 + a * 16 + k"
        return f"""
        with slots as (
            select *, unnest(range(slots)) as k
            from pop_cards
            where open_dn <= {dn} and {dn} < close_dn
        ), drawn as (
            select *,
                {mcc_idx} as mi,
                {u("ch")} as u_ch,
                traveller and ({dn} + trip_phase) % trip_period < trip_len as abroad,
                ({dn} + trip_phase) // trip_period as trip_no
            from slots
            where {u("tx")} < lam / slots * {weekend}
        ), channeled as (
            select *, {channel} end as channel
            from drawn
        ), placed as (
            select *,
                case when abroad and channel in ('pos', 'contactless') then {trip_dest}
                     when channel = 'online' and {foreign_online}[mi + 1] and {u("abroad?")} < {ONLINE_ABROAD_SHARE}
                        then {online_dest}
                     else 0 end as place,
                {medians}[mi + 1] * exp(0.8 * {normal(u("amt1"), u("amt2"))}) * amount_mult as want_twd,
                case when {u("night?")} < 0.85 then floor({u("sec")} * 57600)
                     else 57600 + floor({u("sec")} * 28800) end as sec
            from channeled
        )
        select
            'tx' || lpad({permute(s, tx_x, TX_ID_SPACE, "txid")}::varchar, 16, '0') as transaction_id,
            card_id,
            nid as national_id,
            make_timestamp(({dn}::bigint * 86400 + sec::bigint) * 1000000) as transaction_at,
            (case when {pl["whole"]}[place + 1]
                  then greatest(round(least(want_twd, {pl["cap"]}[place + 1]) / {pl["rate"]}[place + 1]), 1)
                  else greatest(round(least(want_twd, {pl["cap"]}[place + 1]) / {pl["rate"]}[place + 1], 2), 0.01)
             end)::decimal(18, 2) as amount,
            {pl["currency"]}[place + 1] as currency,
            {lit_list([m.code for m in mccs])}[mi + 1] as merchant_category_code,
            {pl["country"]}[place + 1] as merchant_country,
            channel,
            {wallet} as wallet_type,
            transaction_id as _uid,
            true as _first,
            open_dn as _open_dn,
            {tx_x} as _x
        from placed
        """

    def post_sql(self, p: LakeParams, day: int, src: str) -> str:
        # a late arrival keeps its content but happened 1–5 days before it landed (if the card existed then)
        dn = p.dn(day)
        late = f"_src_kind = 'late_arrival' and _open_dn <= {dn} - _late"
        return f"""
        select * exclude (_late) replace (
            case when {late} then transaction_at - to_days(_late::integer) else transaction_at end
                as transaction_at,
            case when _src_kind = 'late_arrival' and not ({late}) then null else _src_kind end as _src_kind
        )
        from (select *, 1 + {below(p.seed, MAX_LATE_DAYS, "_uid", lit("late"))} as _late from {src})
        """

    def extras_sql(self, p: LakeParams, day: int, src: str) -> str:
        s = p.seed
        required = self.spec.required
        fresh_id = f"'tx' || lpad({permute(s, f'_x + {FRESH_TX_OFFSET}', TX_ID_SPACE, 'txid')}::varchar, 16, '0')"

        absurd = f"({ref.ABSURD_AMOUNT_TWD}::double * (1 + floor({uniform(s, '_uid', lit('absurd'))} * 49)))"
        amount = f"""(case _src_kind
            when 'negative_amount' then -amount
            when 'absurd_amount' then {absurd}::decimal(18, 2)
            else amount end)"""
        currency = f"""(case _src_kind
            when 'unknown_currency' then {pick(ref.UNKNOWN_CURRENCY_CODES, uniform(s, "_uid", lit("badcur")))}
            when 'absurd_amount' then '{ref.HOME_CURRENCY}'
            else currency end)"""
        wallet = ", wallet_type" if self.has_wallet(p, day) else ""
        return f"""
        select
            {self.missing_or("transaction_id", fresh_id)} as transaction_id,
            {self.missing_or("card_id", "card_id")} as card_id,
            {self.missing_or("national_id", "national_id")} as national_id,
            {self.missing_or("transaction_at", "transaction_at")} as transaction_at,
            {self.missing_or("amount", amount)} as amount,
            {self.missing_or("currency", currency)} as currency,
            merchant_category_code,
            case when _src_kind = 'absurd_amount' then '{ref.HOME_COUNTRY}' else merchant_country end
                as merchant_country,
            channel{wallet}
        from (
            select *, {below(s, len(required), "_uid", lit("misscol"))} as _mc
            from {src}
            where _src_kind in ('missing_required', 'negative_amount', 'absurd_amount', 'unknown_currency')
        )
        """
