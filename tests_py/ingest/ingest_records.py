"""Small, made-up records for the ingestion tests (valid national IDs by construction, never from a lake)."""

from __future__ import annotations

import uuid
from typing import Any

from taglake.lake.national_id import checksum_digit


def national_id(letter: str = "F", first_eight: str = "13579246") -> str:
    """A made-up national ID with a valid checksum."""
    return f"{letter}{first_eight}{checksum_digit(letter, first_eight)}"


def app_event(**overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "national_id": national_id(),
        "event_type": "page_view",
        "event_at": "2026-10-31T08:15:00.000Z",
        "page": "/cards/rewards",
        "product_code": None,
        "device": {"os": "android", "os_version": "14", "app_version": "5.3.1", "device_model": "Pixel 8"},
    }
    record.update(overrides)
    return record


def customer(**overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "national_id": national_id("Q", "28461357"),
        "name_zh": "測試者",
        "birth_date": "1988-04-02",
        "gender": "F",
        "mobile": "0912-000-111",
        "email": "tester@example.invalid",
        "address": "臺北市大安區測試路1號",
        "home_branch": "0101",
        "risk_grade": "R2",
        "customer_status": "active",
        "customer_since": "2026-10-31",
        "updated_at": "2026-10-31 09:00:00",
    }
    record.update(overrides)
    return record


def card_transaction(**overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "transaction_id": "tx1" + str(uuid.uuid4().int)[:15],
        "card_id": "C10000000001",
        "national_id": national_id(),
        "transaction_at": "2026-10-31 09:30:00",
        "amount": "199.00",
        "currency": "TWD",
        "merchant_category_code": "5812",
        "merchant_country": "TW",
        "channel": "pos",
        "wallet_type": None,
    }
    record.update(overrides)
    return record
