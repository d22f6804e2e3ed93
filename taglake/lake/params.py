"""The parameters of one synthetic lake and the calendar derived from them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property

EPOCH = date(1970, 1, 1)
MIN_CUSTOMERS = 10
MAX_CUSTOMERS = 5_000_000  # national-ID serials (2 × 10^7) must leave room for quarantined records' IDs
MAX_DAYS = 3_660
MAX_DEFECT_RATE = 0.2
NEW_CUSTOMERS_PER_DAY = 0.001  # share of the population that joins on each day after the first …
MAX_NEW_CUSTOMER_SHARE = 0.15  # … up to this share over the whole history
SCHEMA_CHANGE_AT = 0.6  # cards.transactions gains wallet_type this far through the history


def day_number(d: date) -> int:
    """Days since 1970-01-01: the integer the SQL works with."""
    return (d - EPOCH).days


@dataclass(frozen=True)
class LakeParams:
    seed: int
    customers: int
    days: int
    end_date: date
    defect_rate: float
    # Days written after the planned history by `taglake generate --append-day` (docs/daily-runs.md). The
    # population and every per-day draw stay those of the planned `days`, so appending never changes a file
    # already written; appended days add their own new customers (new_per_appended_day each).
    appended_days: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed < 2**31:
            raise ValueError(f"seed must be an integer in [0, 2^31), got {self.seed!r}")
        if isinstance(self.customers, bool) or not isinstance(self.customers, int):
            raise ValueError(f"customers must be an integer, got {self.customers!r}")
        if not MIN_CUSTOMERS <= self.customers <= MAX_CUSTOMERS:
            raise ValueError(
                f"customers must be between {MIN_CUSTOMERS:,} and {MAX_CUSTOMERS:,}, got {self.customers:,}"
            )
        if isinstance(self.days, bool) or not isinstance(self.days, int):
            raise ValueError(f"days must be an integer, got {self.days!r}")
        if not 1 <= self.days <= MAX_DAYS:
            raise ValueError(f"days must be between 1 and {MAX_DAYS:,}, got {self.days:,}")
        if not isinstance(self.end_date, date):
            raise ValueError(f"end_date must be a date, got {self.end_date!r}")
        extra = self.appended_days
        if isinstance(extra, bool) or not isinstance(extra, int) or not 0 <= extra <= MAX_DAYS - self.days:
            raise ValueError(f"appended_days must be an integer in [0, {MAX_DAYS - self.days}], got {extra!r}")
        rate = self.defect_rate
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= MAX_DEFECT_RATE:
            raise ValueError(f"defect_rate must be a number in [0, {MAX_DEFECT_RATE}], got {rate!r}")

    @property
    def start_date(self) -> date:
        return self.end_date - timedelta(days=self.days - 1)

    def date_of(self, day: int) -> date:
        """The landing date of day index ``day`` (0 = the first day)."""
        return self.start_date + timedelta(days=day)

    def dn(self, day: int) -> int:
        """The SQL day number of day index ``day``."""
        return day_number(self.date_of(day))

    @property
    def total_days(self) -> int:
        """Landing days the lake holds: the planned history plus the appended days."""
        return self.days + self.appended_days

    @property
    def last_date(self) -> date:
        """The newest landing date (end_date unless days were appended)."""
        return self.date_of(self.total_days - 1)

    @property
    def last_dn(self) -> int:
        return day_number(self.last_date)

    @property
    def new_per_appended_day(self) -> int:
        """Customers that join on each appended day."""
        return max(1, round(self.customers * NEW_CUSTOMERS_PER_DAY))

    @property
    def population(self) -> int:
        """Every customer that exists by the last landing day: `customers` plus those of the appended days."""
        return self.customers + self.appended_days * self.new_per_appended_day

    @property
    def start_dn(self) -> int:
        return day_number(self.start_date)

    @property
    def end_dn(self) -> int:
        return day_number(self.end_date)

    @cached_property
    def initial_customers(self) -> int:
        """Customers that already exist on the first day; the rest join one by one over the later days."""
        share = min(MAX_NEW_CUSTOMER_SHARE, NEW_CUSTOMERS_PER_DAY * (self.days - 1))
        return self.customers - round(self.customers * share)

    @property
    def schema_change_day(self) -> int:
        """Day index of the first cards.transactions partition that has wallet_type."""
        return int(self.days * SCHEMA_CHANGE_AT)

    @cached_property
    def scoring_days(self) -> tuple[int, ...]:
        """Day indexes the models score on: the first day, then the first day of each later month."""
        return tuple(d for d in range(self.total_days) if d == 0 or self.date_of(d).day == 1)
