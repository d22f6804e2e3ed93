"""A shared corpus of spellings of personal data, and of look-alikes that are not personal data.

For a few valid national IDs, mobiles, e-mail addresses and street addresses, every spelling a value can take on
its way into the lake: any letter case, full-width letters, digits and signs, spaces, dashes, dots and brackets
inside numbers, +886 / 886 / 00886 / (+886) / +886 (0) prefixes, and each embedded in longer text (Chinese text,
`ID:`, a JSON object). Negatives are what the lake legitimately holds that looks similar: 64-hex tokens, masked
forms, card references, dates, amounts, ISO codes.

No test here uses taglake.privacy.patterns to decide what is planted or what a leak is: the corpus is written out
by hand and by plain string operations.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from taglake.lake.national_id import checksum_digit


def valid_id(letter: str, digits8: str) -> str:
    return f"{letter}{digits8}{checksum_digit(letter, digits8)}"


NATIONAL_IDS = (valid_id("A", "12345678"), valid_id("F", "22233344"), valid_id("Z", "10000001"))
MOBILES = ("0912345678", "0987654321")
EMAILS = ("bob.chen@example.com", "mei_lin-2@mail.example.tw")
ADDRESSES = ("臺北市大安區信義路四段1號", "新北市板橋區文化路一段188巷5號", "高雄市苓雅區四維三路2號")


def full_width(text: str) -> str:
    """ASCII letters, digits and signs as their full-width forms (what NFKC folds back)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else ("\u3000" if c == " " else c) for c in text)


def _case_and_width(s: str) -> list[str]:
    return [s, s.lower(), s.upper(), s.title(), full_width(s), full_width(s.lower()), full_width(s[:3]) + s[3:]]


def id_spellings(nid: str) -> list[str]:
    letter, d = nid[0], nid[1:]
    grouped = [
        f"{letter}{d}",
        f"{letter} {d}",
        f"{letter}-{d}",
        f"{letter}{d[:3]}-{d[3:6]}-{d[6:]}",
        f"{letter} {d[:3]} {d[3:6]} {d[6:]}",
        f"{letter}{d[:3]}.{d[3:6]}.{d[6:]}",
        f"{letter}{d[:4]} {d[4:]}",
    ]
    return [v for g in grouped for v in _case_and_width(g)]


def mobile_spellings(mobile: str) -> list[str]:
    n = mobile[1:]  # 9 + 8 digits
    forms = [
        mobile,
        f"{mobile[:4]}-{mobile[4:7]}-{mobile[7:]}",
        f"{mobile[:4]} {mobile[4:7]} {mobile[7:]}",
        f"{mobile[:4]}.{mobile[4:7]}.{mobile[7:]}",
        f"({mobile[:2]}){mobile[2:4]}-{mobile[4:7]}-{mobile[7:]}",
        f"({mobile[:4]}){mobile[4:]}",
        f"({mobile[:4]}) {mobile[4:7]}-{mobile[7:]}",
        f"+886{n}",
        f"+886 {n[:3]} {n[3:6]} {n[6:]}",
        f"+886-{n[:3]}-{n[3:6]}-{n[6:]}",
        f"886{n}",
        f"00886{n}",
        f"(+886){n}",
        f"+886 (0){n[:3]} {n[3:6]} {n[6:]}",
        f"+886(0){n}",
    ]
    return [v for f in forms for v in (f, full_width(f))]


def email_spellings(email: str) -> list[str]:
    local, domain = email.split("@")
    forms = [email, email.upper(), f"{local.title()}@{domain.upper()}", f"{local} @ {domain}", f"{local}@ {domain}"]
    return [v for f in forms for v in (f, full_width(f))]


def address_spellings(address: str) -> list[str]:
    digits_full = "".join(full_width(c) if c.isascii() else c for c in address)
    city, rest = address[:3], address[3:]
    district_end = next(i for i, c in enumerate(rest) if c in "區鄉鎮市") + 1
    spaced = f"{city} {rest[:district_end]} {rest[district_end:]}"
    forms = [address, address.replace("臺", "台"), digits_full, spaced]
    return list(dict.fromkeys(forms))


CONTEXTS = (
    "{}",
    "客戶{}來電",
    "身分證字號：{}。",
    "ID:{}",
    "備註 {} 謝謝",
    '{{"note": "{}"}}',
    '{{"national_id":"{}","event_type":"login"}}',
    "請聯絡（{}）",
)


@dataclass(frozen=True)
class Planted:
    """A text holding one personal value (`value`, in its plain form) in some spelling."""

    kind: str
    value: str
    text: str

    def __repr__(self) -> str:
        return f"Planted({self.kind})"


def positives() -> list[Planted]:
    out: list[Planted] = []
    spellers = {
        "national_id": (NATIONAL_IDS, id_spellings),
        "mobile": (MOBILES, mobile_spellings),
        "email": (EMAILS, email_spellings),
        "address": (ADDRESSES, address_spellings),
    }
    for kind, (values, speller) in spellers.items():
        for value in values:
            for spelling in speller(value):
                for context in CONTEXTS:
                    out.append(Planted(kind, value, context.format(spelling)))
    return out


TOKEN = "f" + "a123456789" + "0" * 53  # a 64-hex token that holds an ID-looking run
NEGATIVES: tuple[str, ...] = (
    TOKEN,
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "C12345678901",
    "card C12345678901 used",
    "*******678",
    "***@example.com",
    "2024-01-01",
    "2024-01-01 10:20:30",
    "2024-01-01T10:20:30Z",
    "R5 2024-01-01",
    "12345.67",
    "1234567890",
    "0.912345678",
    "TWD",
    "USD 1,234,567.89",
    "JP",
    "5999",
    "page_view",
    "ios 17.2.1",
    "SM-G9910",
    "123e4567-e89b-12d3-a456-426614174000",
    "臺北市",
    "大安區",
    "臺北市大安區",
    "v5.12.3",
    '{"event_id":"e-000123","event_type":"login","device":{"os":"ios"}}',
)


def folded(text: str) -> str:
    """The oracle's view of a text: NFKC and case folding (plain Python, not the patterns module)."""
    return unicodedata.normalize("NFKC", text).casefold()


def oracle_forms(kind: str, value: str) -> list[str]:
    """Folded needles an independent oracle searches for: the digits/letters of a value without separators, and
    the value itself. A text leaks `value` when its folded form, stripped of separators, contains one of them."""
    v = folded(value)
    if kind in ("national_id", "mobile"):
        return [v, v[1:] if kind == "mobile" else v]  # a mobile may lose its leading 0 to +886
    return [v]


def strip_separators(text: str) -> str:
    return "".join(c for c in folded(text) if c not in " .-()\u3000+")
