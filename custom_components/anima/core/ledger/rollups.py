"""Rollups: totals per local day and month, keyed by scope, and the calendar they follow.

Pure domain logic: no Home Assistant imports. Budgets follow the ledger's local day and month, so
they reset at local midnight and on the first of the month without any timer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time as dt_time, timedelta, tzinfo
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final

from .records import OUTCOME_CACHE_HIT, ZERO, Kind, UsageRecord


class Scope(StrEnum):
    """How rollups are keyed."""

    TOTAL = "total"
    PROVIDER = "provider"
    PROFILE = "profile"
    ENDPOINT = "endpoint"
    KIND = "kind"


class Period(StrEnum):
    """A rollup period; both follow the ledger's time zone."""

    DAY = "day"
    MONTH = "month"


# --- rollups ------------------------------------------------------------------------------


@dataclass(slots=True)
class Totals:
    """What a set of records consumed and cost.

    `cost` is in the ledger currency; `other_costs` holds costs in currencies without a
    conversion rate (they are not in `cost`, and budgets do not count them). `saved` is what the
    cache of synthesized speech saved (`cache_hits` calls that asked no provider); `discount`
    what billing plans took off the price list (the metered cost is `cost + discount`).
    """

    records: int = 0
    failed: int = 0  # calls that did not answer
    unpriced: int = 0  # calls with no known price (counted as 0 in `cost`)
    cost: Decimal = ZERO
    other_costs: dict[str, Decimal] = field(default_factory=dict)
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    images: int = 0
    audio_seconds: float = 0.0
    tts_characters: int = 0
    characters_saved: int = 0
    cache_hits: int = 0
    saved: Decimal = ZERO
    discount: Decimal = ZERO

    def add(
        self, record: UsageRecord, currency: str, *, saved: Decimal = ZERO, discount: Decimal = ZERO
    ) -> None:
        """Count one priced record; `currency` is the ledger's, as are `saved` and `discount`."""
        self.records += 1
        if not record.succeeded:
            self.failed += 1
        if not record.priced:
            self.unpriced += 1
        if record.cost:
            if record.currency == currency:
                self.cost += record.cost
            else:
                other = self.other_costs
                other[record.currency] = other.get(record.currency, ZERO) + record.cost
        self.saved += saved
        self.discount += discount
        if record.outcome == OUTCOME_CACHE_HIT:  # nothing was asked of a provider
            self.cache_hits += 1
            return
        self.input_tokens += record.input_tokens
        self.cached_input_tokens += record.cached_input_tokens
        self.output_tokens += record.output_tokens
        self.images += record.images
        self.audio_seconds += record.audio_seconds
        if record.kind is Kind.TTS:
            self.tts_characters += record.characters
        self.characters_saved += record.characters_saved

    def merge(self, other: Totals) -> None:
        """Add another set of totals to this one."""
        for name in _COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in _MONEY:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.audio_seconds += other.audio_seconds
        for code, amount in other.other_costs.items():
            self.other_costs[code] = self.other_costs.get(code, ZERO) + amount

    def rebase(self, old: str, new: str) -> None:
        """Re-file totals kept in currency `old` for a ledger now in `new` (no conversion)."""
        if old == new:
            return
        if self.cost:
            self.other_costs[old] = self.other_costs.get(old, ZERO) + self.cost
        self.cost = self.other_costs.pop(new, ZERO)
        self.saved = self.discount = ZERO  # cannot be converted without a rate

    def copy(self) -> Totals:
        """Return an independent copy."""
        result = Totals()
        result.merge(self)
        return result

    def to_dict(self) -> dict[str, Any]:
        """JSON form: non-zero fields only, money as strings."""
        data: dict[str, Any] = {
            name: getattr(self, name) for name in _COUNTS if getattr(self, name)
        }
        for name in _MONEY:
            if value := getattr(self, name):
                data[name] = str(value)
        if self.other_costs:
            data["other_costs"] = {code: str(v) for code, v in self.other_costs.items()}
        if self.audio_seconds:
            data["audio_seconds"] = self.audio_seconds
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Totals:
        """Read `to_dict` output."""
        result = cls()
        for name in _COUNTS:
            setattr(result, name, int(data.get(name, 0)))
        for name in _MONEY:
            setattr(result, name, Decimal(data.get(name, "0")))
        result.other_costs = {c: Decimal(v) for c, v in data.get("other_costs", {}).items()}
        result.audio_seconds = float(data.get("audio_seconds", 0.0))
        return result


_COUNTS: Final = (
    "records",
    "failed",
    "unpriced",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "images",
    "tts_characters",
    "characters_saved",
    "cache_hits",
)
#: Amounts of money in the ledger currency (stored as strings).
_MONEY: Final = ("cost", "saved", "discount")


def scope_key(scope: Scope, key: str | None = None) -> str:
    """Return the rollup key of a scope: "total", or e.g. "provider:<connection id>"."""
    if scope is Scope.TOTAL:
        return "total"
    if key is None:
        raise ValueError(f"scope {scope} needs a key")
    return f"{scope}:{key}"


type Rollups = dict[str, dict[str, Totals]]


class MonthlyDevices:
    """The devices (None: no device) each connection answered, per month (for licences)."""

    def __init__(self) -> None:
        self._months: dict[str, dict[str, set[str | None]]] = {}

    def add(self, month: str, record: UsageRecord) -> None:
        """Count the device of a call that answered, in its month ("2026-01")."""
        if record.succeeded:
            by_provider = self._months.setdefault(month, {})
            by_provider.setdefault(record.provider, set()).add(record.endpoint)

    def count(self, month: str, provider: str) -> int:
        """Return how many devices `provider` answered in `month`."""
        return len(self._months.get(month, {}).get(provider, ()))

    def drop_before(self, month: str) -> None:
        """Forget the months before `month`."""
        for key in [key for key in self._months if key < month]:
            del self._months[key]


def totals_of(records: Iterable[UsageRecord], currency: str) -> Totals:
    """Add up priced records (for ad-hoc reports and tests)."""
    result = Totals()
    for record in records:
        result.add(record, currency)
    return result


type When = date | float | None


class Calendar:
    """Local days and months of one time zone, on a clock of epoch seconds."""

    def __init__(self, tz: tzinfo, clock: Callable[[], float]) -> None:
        """Count days in `tz`, reading the time from `clock`."""
        self.tz = tz
        self._clock = clock

    def now(self) -> float:
        """Return the clock (epoch seconds)."""
        return self._clock()

    def local_date(self, when: float) -> date:
        """Return the local date at epoch time `when`."""
        return datetime.fromtimestamp(when, self.tz).date()

    def day_bounds(self, when: float | None = None) -> tuple[float, float]:
        """Epoch times of the start of the local day containing `when` and of the next day."""
        day = self.local_date(self._clock() if when is None else when)
        return self._midnight(day), self._midnight(day + timedelta(days=1))

    def month_bounds(self, when: float | None = None) -> tuple[float, float]:
        """Epoch times of the start of the local month containing `when` and of the next one."""
        day = self.local_date(self._clock() if when is None else when).replace(day=1)
        following = (day + timedelta(days=32)).replace(day=1)
        return self._midnight(day), self._midnight(following)

    def period_key(self, period: Period, when: When = None) -> str:
        """Return the key of the day ("2026-01-31") or month ("2026-01") containing `when`."""
        if when is None:
            when = self._clock()
        day = when if isinstance(when, date) else self.local_date(when)
        return day.isoformat() if period is Period.DAY else day.isoformat()[:7]

    def _midnight(self, day: date) -> float:
        return datetime.combine(day, dt_time.min, tzinfo=self.tz).timestamp()
