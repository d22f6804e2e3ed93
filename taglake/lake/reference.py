"""Reference lists the synthetic raw zone is drawn from, and the limits its checks use (one copy of each).

Weighted lists are tuples of (value, weight); weights are relative.
"""

from __future__ import annotations

from functools import cache
from typing import Any, NamedTuple

from taglake.core.sources import project_var, read_seed

# ---- limits the defect checks use ----------------------------------------------------------------------
SCORE_MIN, SCORE_MAX = 0.0, 1.0

# ---- places ----------------------------------------------------------------------------------------------


class City(NamedTuple):
    name: str
    weight: float  # population, millions (about)
    districts: tuple[str, ...]


# The 22 cities and counties (縣市), with a few real districts (鄉鎮市區) each.
CITIES: tuple[City, ...] = (
    City("臺北市", 2.5, ("中正區", "大同區", "中山區", "松山區", "大安區", "萬華區", "信義區", "士林區",
                      "北投區", "內湖區", "南港區", "文山區")),
    City("新北市", 4.0, ("板橋區", "三重區", "中和區", "永和區", "新莊區", "新店區", "土城區", "蘆洲區",
                      "汐止區", "樹林區", "淡水區", "三峽區")),
    City("桃園市", 2.3, ("桃園區", "中壢區", "平鎮區", "八德區", "楊梅區", "蘆竹區", "龜山區", "大園區")),
    City("臺中市", 2.8, ("中區", "東區", "南區", "西區", "北區", "西屯區", "南屯區", "北屯區", "豐原區",
                      "大里區", "太平區")),
    City("臺南市", 1.85, ("中西區", "東區", "南區", "北區", "安平區", "安南區", "永康區", "歸仁區",
                       "新營區")),
    City("高雄市", 2.7, ("新興區", "前金區", "苓雅區", "鹽埕區", "鼓山區", "前鎮區", "三民區", "左營區",
                      "楠梓區", "小港區", "鳳山區")),
    City("基隆市", 0.36, ("仁愛區", "信義區", "中正區", "中山區", "安樂區", "暖暖區", "七堵區")),
    City("新竹市", 0.45, ("東區", "北區", "香山區")),
    City("嘉義市", 0.26, ("東區", "西區")),
    City("新竹縣", 0.58, ("竹北市", "竹東鎮", "新埔鎮", "關西鎮", "湖口鄉", "新豐鄉")),
    City("苗栗縣", 0.54, ("苗栗市", "頭份市", "竹南鎮", "後龍鎮", "通霄鎮", "苑裡鎮")),
    City("彰化縣", 1.25, ("彰化市", "員林市", "和美鎮", "鹿港鎮", "溪湖鎮", "北斗鎮")),
    City("南投縣", 0.48, ("南投市", "埔里鎮", "草屯鎮", "竹山鎮", "集集鎮")),
    City("雲林縣", 0.67, ("斗六市", "斗南鎮", "虎尾鎮", "西螺鎮", "北港鎮")),
    City("嘉義縣", 0.49, ("太保市", "朴子市", "民雄鄉", "水上鄉", "大林鎮")),
    City("屏東縣", 0.8, ("屏東市", "潮州鎮", "東港鎮", "恆春鎮", "內埔鄉")),
    City("宜蘭縣", 0.45, ("宜蘭市", "羅東鎮", "蘇澳鎮", "頭城鎮", "礁溪鄉")),
    City("花蓮縣", 0.32, ("花蓮市", "吉安鄉", "鳳林鎮", "玉里鎮", "新城鄉")),
    City("臺東縣", 0.21, ("臺東市", "成功鎮", "關山鎮", "卑南鄉")),
    City("澎湖縣", 0.11, ("馬公市", "湖西鄉", "白沙鄉", "西嶼鄉")),
    City("金門縣", 0.14, ("金城鎮", "金湖鎮", "金沙鎮", "金寧鄉")),
    City("連江縣", 0.014, ("南竿鄉", "北竿鄉", "莒光鄉", "東引鄉")),
)  # fmt: skip

# National-ID letter → the city/county it stands for today (L, R, S, Y were merged into their cities), and how
# often it occurs among customers.
ID_LETTERS: tuple[tuple[str, str, float], ...] = (
    ("A", "臺北市", 2.4), ("Y", "臺北市", 0.05), ("F", "新北市", 4.0), ("H", "桃園市", 2.3),
    ("B", "臺中市", 1.7), ("L", "臺中市", 1.1), ("D", "臺南市", 1.0), ("R", "臺南市", 0.85),
    ("E", "高雄市", 1.6), ("S", "高雄市", 1.1), ("C", "基隆市", 0.36), ("O", "新竹市", 0.45),
    ("I", "嘉義市", 0.26), ("J", "新竹縣", 0.58), ("K", "苗栗縣", 0.54), ("N", "彰化縣", 1.25),
    ("M", "南投縣", 0.48), ("P", "雲林縣", 0.67), ("Q", "嘉義縣", 0.49), ("T", "屏東縣", 0.8),
    ("G", "宜蘭縣", 0.45), ("U", "花蓮縣", 0.32), ("V", "臺東縣", 0.21), ("X", "澎湖縣", 0.11),
    ("W", "金門縣", 0.14), ("Z", "連江縣", 0.014),
)  # fmt: skip

STREETS: tuple[str, ...] = (
    "中山路", "中正路", "民生路", "民權路", "民族路", "中華路", "復興路", "光復路", "建國路", "和平路",
    "自由路", "成功路", "忠孝東路", "仁愛路", "信義路", "文化路", "公園路", "大同路", "三民路", "五福路",
    "博愛路", "林森路", "經國路", "永福路", "重慶路",
)  # fmt: skip
STREET_SECTIONS: tuple[str, ...] = ("一段", "二段", "三段", "四段", "五段")

# ---- names -------------------------------------------------------------------------------------------------

SURNAMES: tuple[tuple[str, str, float], ...] = (  # (surname, romanisation, share %)
    ("陳", "chen", 11.1), ("林", "lin", 8.3), ("黃", "huang", 6.0), ("張", "chang", 5.3), ("李", "lee", 5.1),
    ("王", "wang", 4.1), ("吳", "wu", 4.0), ("劉", "liu", 3.2), ("蔡", "tsai", 2.9), ("楊", "yang", 2.7),
    ("許", "hsu", 2.3), ("鄭", "cheng", 1.9), ("謝", "hsieh", 1.8), ("洪", "hung", 1.5), ("郭", "kuo", 1.5),
    ("邱", "chiu", 1.4), ("曾", "tseng", 1.4), ("廖", "liao", 1.3), ("賴", "lai", 1.3), ("徐", "hsu", 1.2),
    ("周", "chou", 1.1), ("葉", "yeh", 1.1), ("蘇", "su", 1.1), ("莊", "chuang", 0.9), ("呂", "lu", 0.9),
    ("江", "chiang", 0.9), ("何", "ho", 0.8), ("蕭", "hsiao", 0.8), ("羅", "lo", 0.8), ("高", "kao", 0.8),
    ("潘", "pan", 0.7), ("簡", "chien", 0.7), ("朱", "chu", 0.7), ("鍾", "chung", 0.7), ("游", "yu", 0.6),
    ("彭", "peng", 0.6), ("詹", "chan", 0.6), ("胡", "hu", 0.6), ("施", "shih", 0.6), ("沈", "shen", 0.6),
    ("歐陽", "ouyang", 0.08), ("張簡", "changchien", 0.06), ("范姜", "fanchiang", 0.04), ("司馬", "szuma", 0.02),
)  # fmt: skip

GIVEN_MALE: tuple[tuple[str, str], ...] = (
    ("志", "chih"), ("偉", "wei"), ("明", "ming"), ("俊", "chun"), ("傑", "chieh"), ("宏", "hung"),
    ("家", "chia"), ("建", "chien"), ("文", "wen"), ("國", "kuo"), ("承", "cheng"), ("冠", "kuan"),
    ("宇", "yu"), ("翔", "hsiang"), ("豪", "hao"), ("哲", "che"), ("彥", "yen"), ("廷", "ting"),
    ("柏", "po"), ("睿", "jui"),
)  # fmt: skip
GIVEN_FEMALE: tuple[tuple[str, str], ...] = (
    ("淑", "shu"), ("美", "mei"), ("怡", "yi"), ("婷", "ting"), ("雅", "ya"), ("慧", "hui"), ("玲", "ling"),
    ("君", "chun"), ("佳", "chia"), ("芳", "fang"), ("欣", "hsin"), ("萱", "hsuan"), ("琪", "chi"),
    ("筱", "hsiao"), ("瑜", "yu"), ("惠", "hui"), ("珮", "pei"), ("郁", "yu"), ("詩", "shih"), ("涵", "han"),
)  # fmt: skip
# Characters outside the Basic Multilingual Plane (CJK Extension B/C) that occur in real names.
GIVEN_NON_BMP: tuple[tuple[str, str], ...] = (
    ("\U00020bb7", "chi"), ("\U00025683", "li"), ("\U00021619", "tai"), ("\U00028468", "ta"),
    ("\U0002a736", "in"), ("\U00023feb", "lan"),
)  # fmt: skip
NON_BMP_NAME_SHARE = 0.005

EMAIL_DOMAINS: tuple[tuple[str, float], ...] = (
    ("gmail.com", 40), ("yahoo.com.tw", 20), ("hotmail.com", 10), ("outlook.com", 8), ("msa.hinet.net", 8),
    ("icloud.com", 6), ("pchome.com.tw", 4), ("seed.net.tw", 2), ("livemail.tw", 2),
)  # fmt: skip

RISK_GRADES: tuple[tuple[str, float], ...] = (("R1", 10), ("R2", 25), ("R3", 35), ("R4", 20), ("R5", 10))

# ---- products ----------------------------------------------------------------------------------------------

# account_id carries the product type as two digits after the branch code
PRODUCT_TYPE_DIGITS: dict[str, str] = {
    "deposit": "01", "credit_card": "02", "loan": "03", "wealth": "04", "insurance": "05",
}  # fmt: skip
# product types of a customer's 2nd … 5th account (the 1st is always a savings deposit)
EXTRA_PRODUCT_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("credit_card", 40), ("deposit", 20), ("loan", 12), ("wealth", 15), ("insurance", 13),
)  # fmt: skip
PRODUCT_CODES: dict[str, tuple[str, ...]] = {
    "deposit": ("DEP-SAV", "DEP-CHK", "DEP-TD", "DEP-FX"),
    "credit_card": ("CC-CLASSIC", "CC-GOLD", "CC-PLATINUM", "CC-INFINITE"),  # by the holder's wealth
    "loan": ("LN-MORTGAGE", "LN-PERSONAL", "LN-AUTO"),
    "wealth": ("WM-FUND", "WM-BOND", "WM-STRUCTURED"),
    "insurance": ("INS-LIFE", "INS-ANNUITY", "INS-HEALTH"),
}
ACCOUNTS_PER_CUSTOMER: tuple[tuple[int, float], ...] = ((1, 25), (2, 30), (3, 25), (4, 12), (5, 8))

# ---- cards -------------------------------------------------------------------------------------------------


class Mcc(NamedTuple):
    code: str
    label: str
    weight: float
    median_twd: float
    channels: tuple[tuple[str, float], ...]  # channel mix
    foreign_online: bool  # online spend here is often with merchants abroad


_IN_STORE = (("pos", 45), ("contactless", 50), ("online", 5))
MCCS: tuple[Mcc, ...] = (
    Mcc("5411", "groceries", 16, 850, _IN_STORE, False),
    Mcc("5499", "convenience stores", 10, 120, _IN_STORE, False),
    Mcc("5812", "dining", 14, 650, _IN_STORE, False),
    Mcc("5814", "fast food", 7, 180, _IN_STORE, False),
    Mcc("5541", "fuel", 6, 1100, (("pos", 70), ("contactless", 30)), False),
    Mcc("5999", "online and misc retail", 9, 1200, (("online", 70), ("pos", 20), ("contactless", 10)), True),
    Mcc("5311", "department stores", 5, 3200, _IN_STORE, False),
    Mcc("5651", "clothing", 4, 1800, _IN_STORE, False),
    Mcc("5732", "electronics", 3, 9000, (("pos", 55), ("online", 40), ("contactless", 5)), True),
    Mcc("5912", "drugstores", 4, 450, _IN_STORE, False),
    Mcc("4121", "taxis", 3, 280, (("contactless", 40), ("online", 60)), False),
    Mcc("4814", "telecom", 3, 999, (("recurring", 85), ("online", 15)), False),
    Mcc("4900", "utilities", 2, 1400, (("recurring", 80), ("online", 20)), False),
    Mcc("4899", "streaming", 2, 390, (("recurring", 90), ("online", 10)), True),
    Mcc("5815", "digital media", 2, 150, (("online", 100),), True),
    Mcc("4511", "airlines", 2, 14000, (("online", 70), ("pos", 30)), True),
    Mcc("7011", "hotels", 2, 5200, (("online", 50), ("pos", 50)), True),
    Mcc("6300", "insurance premiums", 1, 4500, (("recurring", 90), ("online", 10)), False),
    Mcc("8062", "hospitals", 1, 900, (("pos", 80), ("contactless", 20)), False),
    Mcc("8299", "education", 1, 6000, (("online", 50), ("pos", 50)), False),
    Mcc("7832", "cinemas", 1, 560, _IN_STORE, False),
    Mcc("5942", "bookstores", 1, 650, _IN_STORE, True),
)

WALLET_PREFERENCE: tuple[tuple[str, float], ...] = (
    ("apple_pay", 40), ("google_pay", 25), ("samsung_pay", 8), ("none", 27),
)  # fmt: skip

HOME_COUNTRY, HOME_CURRENCY = "TW", "TWD"


class Destination(NamedTuple):
    country: str  # ISO 3166 alpha-2
    currency: str  # ISO 4217
    weight: float  # share of trips abroad


DESTINATIONS: tuple[Destination, ...] = (
    Destination("JP", "JPY", 35), Destination("KR", "KRW", 12), Destination("US", "USD", 9),
    Destination("HK", "HKD", 8), Destination("TH", "THB", 8), Destination("SG", "SGD", 5),
    Destination("VN", "VND", 4), Destination("FR", "EUR", 2), Destination("DE", "EUR", 2),
    Destination("IT", "EUR", 2), Destination("GB", "GBP", 3), Destination("AU", "AUD", 3),
    Destination("MY", "MYR", 3), Destination("CN", "CNY", 3), Destination("PH", "PHP", 1),
)  # fmt: skip
# where online merchants abroad sit
ONLINE_ABROAD: tuple[Destination, ...] = (
    Destination("US", "USD", 60), Destination("JP", "JPY", 20), Destination("CN", "CNY", 10),
    Destination("GB", "GBP", 5), Destination("SG", "SGD", 5),
)  # fmt: skip

# FX_TWD_PER_UNIT (read on first use, see __getattr__): reference rates, TWD per unit, from the bank's currency
# seed (seeds/ref_currencies.csv, the one list staging validates currencies against): used to express amounts as
# TWD-equivalent (for the absurd-amount check).
ZERO_DECIMAL_CURRENCIES: frozenset[str] = frozenset({"JPY", "KRW", "VND"})

# Active ISO 4217 alphabetic codes (funds and metals included): a currency outside this set is unknown.
ISO_4217_CODES: frozenset[str] = frozenset(
    [
        "AED",
        "AFN",
        "ALL",
        "AMD",
        "ANG",
        "AOA",
        "ARS",
        "AUD",
        "AWG",
        "AZN",
        "BAM",
        "BBD",
        "BDT",
        "BGN",
        "BHD",
        "BIF",
        "BMD",
        "BND",
        "BOB",
        "BOV",
        "BRL",
        "BSD",
        "BTN",
        "BWP",
        "BYN",
        "BZD",
        "CAD",
        "CDF",
        "CHE",
        "CHF",
        "CHW",
        "CLF",
        "CLP",
        "CNY",
        "COP",
        "COU",
        "CRC",
        "CUC",
        "CUP",
        "CVE",
        "CZK",
        "DJF",
        "DKK",
        "DOP",
        "DZD",
        "EGP",
        "ERN",
        "ETB",
        "EUR",
        "FJD",
        "FKP",
        "GBP",
        "GEL",
        "GHS",
        "GIP",
        "GMD",
        "GNF",
        "GTQ",
        "GYD",
        "HKD",
        "HNL",
        "HTG",
        "HUF",
        "IDR",
        "ILS",
        "INR",
        "IQD",
        "IRR",
        "ISK",
        "JMD",
        "JOD",
        "JPY",
        "KES",
        "KGS",
        "KHR",
        "KMF",
        "KPW",
        "KRW",
        "KWD",
        "KYD",
        "KZT",
        "LAK",
        "LBP",
        "LKR",
        "LRD",
        "LSL",
        "LYD",
        "MAD",
        "MDL",
        "MGA",
        "MKD",
        "MMK",
        "MNT",
        "MOP",
        "MRU",
        "MUR",
        "MVR",
        "MWK",
        "MXN",
        "MXV",
        "MYR",
        "MZN",
        "NAD",
        "NGN",
        "NIO",
        "NOK",
        "NPR",
        "NZD",
        "OMR",
        "PAB",
        "PEN",
        "PGK",
        "PHP",
        "PKR",
        "PLN",
        "PYG",
        "QAR",
        "RON",
        "RSD",
        "RUB",
        "RWF",
        "SAR",
        "SBD",
        "SCR",
        "SDG",
        "SEK",
        "SGD",
        "SHP",
        "SLE",
        "SLL",
        "SOS",
        "SRD",
        "SSP",
        "STN",
        "SVC",
        "SYP",
        "SZL",
        "THB",
        "TJS",
        "TMT",
        "TND",
        "TOP",
        "TRY",
        "TTD",
        "TWD",
        "TZS",
        "UAH",
        "UGX",
        "USD",
        "USN",
        "UYI",
        "UYU",
        "UYW",
        "UZS",
        "VED",
        "VES",
        "VND",
        "VUV",
        "WST",
        "XAF",
        "XAG",
        "XAU",
        "XBA",
        "XBB",
        "XBC",
        "XBD",
        "XCD",
        "XCG",
        "XDR",
        "XOF",
        "XPD",
        "XPF",
        "XPT",
        "XSU",
        "XTS",
        "XUA",
        "XXX",
        "YER",
        "ZAR",
        "ZMW",
        "ZWG",
        "ZWL",
    ]
)
# Codes that real feeds carry but ISO 4217 does not know.
UNKNOWN_CURRENCY_CODES: tuple[str, ...] = ("NTD", "RMB", "US$", "EURO", "JPN", "NT$")

# ---- digital ------------------------------------------------------------------------------------------------

APP_PAGES: tuple[str, ...] = (
    "/home", "/accounts", "/cards", "/transfer", "/payments", "/wealth", "/loans", "/insurance", "/fx-rates",
    "/rewards", "/notifications", "/settings",
)  # fmt: skip
DEVICES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {  # os → (models, os versions)
    "iOS": (
        ("iPhone SE", "iPhone 12", "iPhone 13", "iPhone 14", "iPhone 15", "iPhone 15 Pro", "iPhone 16",
         "iPhone 16 Pro", "iPhone 17"),
        ("16.7.10", "17.6.1", "18.5", "18.6.2", "26.0.1"),
    ),
    "Android": (
        ("SM-S911B", "SM-S921B", "SM-A546E", "SM-A556E", "Pixel 8", "Pixel 9", "ASUS_AI2302", "XQ-DC72",
         "CPH2531", "2311DRK48G"),
        ("12", "13", "14", "15", "16"),
    ),
}  # fmt: skip

# ---- models -------------------------------------------------------------------------------------------------

MODEL_NAMES: tuple[str, ...] = ("churn_propensity", "wealth_propensity", "card_upsell_propensity")
# score outputs that broke the [0, 1] contract: a percentage, a slightly-over value, a negative
OUT_OF_RANGE_SCORES: tuple[float, ...] = (73.5, 1.0004, -0.02, 1.25, 12.0, -1.0)


@cache
def _project_values() -> dict[str, Any]:
    return {
        # this many TWD (equivalent) or more is absurd
        "ABSURD_AMOUNT_TWD": int(project_var("absurd_amount_twd")),
        "FX_TWD_PER_UNIT": {row["currency_code"]: float(row["twd_per_unit"]) for row in read_seed("ref_currencies")},
    }


def __getattr__(attr: str) -> Any:
    """ABSURD_AMOUNT_TWD (dbt_project.yml's var) and FX_TWD_PER_UNIT (the currency seed), read from the project
    when first asked for (module attributes, PEP 562), so importing this module reads no file."""
    values = _project_values()
    if attr in values:
        return values[attr]
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")
