"""digital.app_events: mobile-app events as JSON lines, as the ingestion API lands them."""

from __future__ import annotations

from taglake.lake import reference as ref
from taglake.lake.feeds.table_gen import TableGen
from taglake.lake.params import LakeParams
from taglake.lake.raw_tables import raw_table
from taglake.lake.sqlrand import below, lit, pick, uniform

APP_RELEASE_EPOCH = 19_723  # 2024-01-01: the app has shipped a release every 30 days since
MAX_LATE_DAYS = 5
_ALL_PRODUCT_CODES = tuple(code for codes in ref.PRODUCT_CODES.values() for code in codes)


def _uuid(text: str) -> str:
    h = f"md5({text})"
    return (
        f"(substr({h}, 1, 8) || '-' || substr({h}, 9, 4) || '-' || substr({h}, 13, 4) || '-'"
        f" || substr({h}, 17, 4) || '-' || substr({h}, 21, 12))"
    )


def _json(overrides: dict[str, str | None] | None = None) -> str:
    """The event as one JSON text; an override replaces a key's value, None leaves the key out."""
    overrides = overrides or {}
    parts: list[str] = []
    for key in raw_table("digital.app_events").columns:
        if key in overrides and overrides[key] is None:
            continue
        parts += [lit(key), overrides.get(key) or key]
    return f"json_object({', '.join(parts)})::varchar"


class AppEventsGen(TableGen):
    table_name = "digital.app_events"
    injected = ("malformed_json", "missing_required", "wrong_type", "exact_duplicate", "late_arrival")
    max_dup_lag = 2
    order_by = ("_sort_ts", "_line")
    day_meta = ("_sort_ts",)

    def file_columns(self, p: LakeParams, day: int) -> tuple[str, ...]:
        return ("_line",)

    def order_sql(self, p: LakeParams, day: int) -> str:
        return "_sort_ts, _line"

    def clean_sql(self, p: LakeParams, day: int) -> str:
        s, dn = p.seed, p.dn(day)
        u = lambda salt: uniform(s, "i", str(dn), lit(salt))  # noqa: E731
        uj = lambda salt: uniform(s, "i", str(dn), "j", lit(salt))  # noqa: E731
        release = f"greatest(({dn} - {APP_RELEASE_EPOCH}) // 30 - app_lag, 0)"
        app_version = "printf('%d.%d.%d', 5 + r // 24, (r % 24) // 3, r % 3)"
        return f"""
        with users as (
            select *
            from pop_customers
            where is_digital and join_dn <= {dn} and {dn} < close_dn and {u("active")} < app_p
        ), sessions as (
            select *,
                1 + {below(s, 5, "i", str(dn), lit("views"))} as n_views,
                {u("logout?")} < 0.8 as has_logout,
                case when {u("night?")} < 0.85 then floor({u("start")} * 54000)
                     else 54000 + floor({u("start")} * 28000) end::bigint as start_sec,
                {release} as r
            from users
        ), events as (
            select *, unnest(range(n_views + 2)) as j
            from sessions
        ), typed as (
            select *,
                case when j = 0 then 'login' when j = n_views + 1 then 'logout'
                     when {uj("pv")} < 0.7 then 'page_view' else 'product_view' end as event_type,
                {_uuid(f"concat_ws('|', '{s}', i::varchar, '{dn}', j::varchar)")} as event_id
            from events
            where j <= n_views or has_logout
        )
        select
            event_id,
            nid as national_id,
            event_type,
            make_timestamp(({dn}::bigint * 86400 + start_sec + j * 45 + {below(s, 40, "i", str(dn), "j", lit("gap"))})
                * 1000000 + {below(s, 1000, "i", str(dn), "j", lit("ms"))} * 1000) as event_ts,
            case when event_type = 'page_view' then {pick(ref.APP_PAGES, uj("page"))} end as page,
            case when event_type = 'product_view' then {pick(_ALL_PRODUCT_CODES, uj("product"))} end
                as product_code,
            {{'os': case when is_ios then 'iOS' else 'Android' end, 'os_version': os_version,
              'app_version': {app_version}, 'device_model': device_model}} as device,
            event_id as _uid,
            true as _first,
            join_dn as _open_dn
        from typed
        """

    def post_sql(self, p: LakeParams, day: int, src: str) -> str:
        dn = p.dn(day)
        late = f"_src_kind = 'late_arrival' and _open_dn <= {dn} - _late"
        shifted = f"""
        select * exclude (_late) replace (
            case when {late} then event_ts - to_days(_late::integer) else event_ts end as event_ts,
            case when _src_kind = 'late_arrival' and not ({late}) then null else _src_kind end as _src_kind
        )
        from (select *, 1 + {below(p.seed, MAX_LATE_DAYS, "_uid", lit("late"))} as _late from {src})
        """
        return f"""
        select *, {_json()} as _line, event_ts as _sort_ts
        from (select *, strftime(event_ts, '%Y-%m-%dT%H:%M:%S.%gZ') as event_at from ({shifted}))
        """

    def extras_sql(self, p: LakeParams, day: int, src: str) -> str:
        s = p.seed
        required = self.spec.required
        missing = []
        for pos, key in enumerate(required):
            missing.append(f"when _mc = {pos} and _absent then {_json({key: None})}")
            missing.append(f"when _mc = {pos} then {_json({key: 'null'})}")
        wrong = (
            f"case when {uniform(s, '_uid', lit('epochms?'))} < 0.5"
            f" then {_json({'event_at': 'epoch(event_ts)::bigint'})}"
            f" else {_json({'event_at': 'epoch_ms(event_ts)'})} end"
        )
        cut = f"10 + floor({uniform(s, '_uid', lit('cut'))} * (length(_full) - 20))::bigint"
        malformed = f"""case {below(s, 3, "_uid", lit("malformed"))}
            when 0 then left(_full, {cut})
            when 1 then left(_full, length(_full) - 1)
            else _full || '}}' end"""
        # quarantined records are extra records with an event ID no clean record has
        fresh = _uuid(f"concat_ws('|', '{s}', 'quarantine', _uid)")
        return f"""
        select
            case _src_kind
                when 'missing_required' then (case {" ".join(missing)} end)
                when 'wrong_type' then {wrong}
                else {malformed}
            end as _line,
            _sort_ts
        from (
            select * replace ({fresh} as event_id), {_json({"event_id": fresh})} as _full,
                {below(s, len(required), "_uid", lit("misscol"))} as _mc,
                {uniform(s, "_uid", lit("absent?"))} < 0.5 as _absent
            from {src}
            where _src_kind in ('malformed_json', 'missing_required', 'wrong_type')
        )
        """
