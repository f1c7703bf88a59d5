"""The cost ledger: one priced record per provider call, daily and monthly rollups, persistence.

Pure domain logic: no Home Assistant imports. Every provider call (chat, vision, speech-to-text,
text-to-speech) becomes one `UsageRecord`; `Ledger.record` prices it with a `PriceBook` and adds
it to rollups per local day and per month, keyed by total, provider (connection id), profile,
endpoint (device id) and kind. The integration wraps the ledger in sensors and passes a store.

Money is `Decimal`: prices are published in decimal ("$0.40 per 1M tokens"), one call costs
fractions of a cent, and a month adds thousands of them. Binary floats would drift in the last
digits and show "0.30000000000000004"; decimals add exactly and round-trip through JSON as
strings. Each record's cost is rounded once, to `COST_QUANTUM` (1e-10 of the currency unit), so
a rollup is the exact sum of its records.

Persistence and the loss bound
------------------------------
Records go to memory at once; the ledger saves its state (records and rollups, consistent with
each other) through the async `Store` at most `flush_interval` seconds (default 10) after the
first unsaved record, sooner when `max_batch` (default 50) records are waiting, and on `close()`:

- a clean shutdown (`await ledger.close()`) loses nothing;
- a power cut or crash loses at most the records of the last `flush_interval` seconds (plus the
  duration of one save in progress), never more, and never a rollup without its records;
- a record that arrives while a save runs waits for the next save (its own timer is armed);
- a save that fails loses nothing: the records stay in memory, the save is retried every
  `flush_interval` seconds, and the first failure of a streak is logged as a warning. While the
  store keeps failing, everything since the last successful save is at risk on a power cut.

Retention: raw records for `raw_days` (default 30) days; daily and monthly rollups for
`rollup_months` (default 13) months: the current month and the twelve before it. Expired data
is dropped at the first record of each new day.

A store is written whole, so with one store every save rewrites 30 days of raw records (about
180 bytes each: megabytes for a busy house, every 10 s). Pass an `archive` store as well and the
main store keeps only the current day's records, its daily rollup and the monthly rollups (tens of
kilobytes), while the archive takes the closed days once a day. A day change saves the main store
first (still holding the days the archive has not confirmed) and then the archive, so a power cut
or a failing archive between the two never loses a day or counts one twice.

Prices are applied when a call is recorded: a later price change never rewrites history.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, time as dt_time, timedelta, tzinfo
from decimal import Decimal
from enum import StrEnum
from functools import cache
import json
import logging
from pathlib import Path
import re
import time
from typing import TYPE_CHECKING, Any, Final, Protocol
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from .providers.base import Usage
    from .routing import Attempt

_LOGGER = logging.getLogger(__name__)

ZERO: Final = Decimal(0)
#: Every record's cost is rounded to this (a ten-billionth of the currency unit).
COST_QUANTUM: Final = Decimal("1e-10")
STORAGE_VERSION: Final = 1
DEFAULT_CURRENCY: Final = "USD"
#: The preset id under which Wyoming connections are priced (they have no OpenAI preset).
PRESET_WYOMING: Final = "wyoming"
#: Model key of a price table that matches every model (local services: everything is free).
ANY_MODEL: Final = "*"
PRICES_FILE: Final = Path(__file__).with_name("prices.json")

OUTCOME_OK: Final = "ok"
#: An answer that came from a route other than the first (the router fell back).
OUTCOME_FALLBACK: Final = "fallback"
SUCCESS_OUTCOMES: Final = frozenset({OUTCOME_OK, OUTCOME_FALLBACK})

_DAY_SECONDS: Final = 86400.0


class Kind(StrEnum):
    """What a provider call did."""

    CHAT = "chat"
    VISION = "vision"
    STT = "stt"
    TTS = "tts"


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


# --- records ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """One provider call, as the ledger keeps it.

    `characters` are the characters sent to a text-to-speech voice and `characters_saved` those
    text shaping removed before that. `audio_seconds` is the audio heard (stt) or spoken (tts).
    `cost`, `currency` and `priced` are filled by `Ledger.record`: `priced` is False when no
    price is known, so a cost of 0 then means "unknown", not "free".
    """

    time: float  # UTC epoch seconds
    provider: str  # connection (config entry) id
    preset: str  # preset id, "wyoming" for Wyoming connections
    kind: Kind
    model: str | None = None
    voice: str | None = None
    endpoint: str | None = None  # Home Assistant device id, None when no device asked
    profile: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    images: int = 0
    audio_seconds: float = 0.0
    characters: int = 0
    characters_saved: int = 0
    latency_ms: int = 0
    outcome: str = OUTCOME_OK  # the router's Outcome value, or "fallback"
    cost: Decimal = ZERO
    currency: str = ""
    priced: bool = False

    def __post_init__(self) -> None:
        kind: object = self.kind
        if not isinstance(kind, Kind):
            object.__setattr__(self, "kind", Kind(str(kind)))

    @classmethod
    def from_attempt(
        cls,
        attempt: Attempt,
        *,
        preset: str,
        kind: Kind,
        when: float | None = None,
        endpoint: str | None = None,
        profile: str | None = None,
        voice: str | None = None,
        usage: Usage | None = None,
        characters_saved: int = 0,
        fallback: bool = False,
    ) -> UsageRecord:
        """Build the record of one router `Attempt` (`routing.Router(on_attempt=...)`).

        `usage` replaces the attempt's own (speech synthesis reports none: pass the characters
        sent and the seconds spoken). `fallback` marks a successful answer from a later route.
        """
        used = usage if usage is not None else attempt.usage
        outcome = str(attempt.outcome)
        if fallback and outcome == OUTCOME_OK:
            outcome = OUTCOME_FALLBACK
        return cls(
            time=time.time() if when is None else when,
            provider=attempt.provider_id,
            preset=preset,
            kind=kind,
            model=attempt.model,
            voice=voice,
            endpoint=endpoint,
            profile=profile,
            input_tokens=used.input_tokens if used else 0,
            output_tokens=used.output_tokens if used else 0,
            images=used.images if used else 0,
            audio_seconds=used.audio_seconds if used else 0.0,
            characters=used.characters if used else 0,
            characters_saved=characters_saved,
            latency_ms=round(attempt.latency * 1000),
            outcome=outcome,
        )

    @property
    def succeeded(self) -> bool:
        """Whether the call answered (first route or fallback)."""
        return self.outcome in SUCCESS_OUTCOMES


def _row(record: UsageRecord) -> tuple[Any, ...]:
    """Return the JSON-ready storage form of a priced record."""
    return (
        record.time,
        record.provider,
        record.preset,
        str(record.kind),
        record.model,
        record.voice,
        record.endpoint,
        record.profile,
        record.input_tokens,
        record.output_tokens,
        record.images,
        record.audio_seconds,
        record.characters,
        record.characters_saved,
        record.latency_ms,
        record.outcome,
        str(record.cost),
        record.currency,
        record.priced,
    )


_ROW_FIELDS: Final = tuple(item.name for item in fields(UsageRecord))
_ROW_LENGTH: Final = len(_ROW_FIELDS)


def _record(row: tuple[Any, ...] | list[Any]) -> UsageRecord:
    """Read `_row` output back (the row's order is the dataclass's field order)."""
    values = dict(zip(_ROW_FIELDS, row, strict=True))
    values["cost"] = Decimal(values["cost"])
    return UsageRecord(**values)


# --- prices -------------------------------------------------------------------------------

_PRICE_KEYS: Final = (
    "input_per_1m",
    "output_per_1m",
    "per_image",
    "audio_per_minute",
    "characters_per_1m",
)


class PriceError(ValueError):
    """A price table (e.g. a user's override) is invalid; the message names the key."""

    translation_key = "invalid_price"


def to_decimal(value: object, *, what: str = "amount") -> Decimal:
    """Read money from JSON: a string, an int or a float (taken as written: 0.1 -> 0.1)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise PriceError(f"{what}: {value!r} is not a number")
    try:
        result = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    except ArithmeticError as err:
        raise PriceError(f"{what}: {value!r} is not a number") from err
    if not result.is_finite() or result < 0:
        raise PriceError(f"{what}: {value!r} must be a finite amount >= 0")
    return result


@dataclass(frozen=True, slots=True)
class Price:
    """What one model or voice costs, in `currency`."""

    currency: str
    input_per_1m: Decimal = ZERO  # per million input tokens
    output_per_1m: Decimal = ZERO  # per million output tokens
    per_image: Decimal = ZERO  # per image, for services that bill images apart from tokens
    audio_per_minute: Decimal = ZERO  # per minute of audio heard (stt) or spoken (tts)
    characters_per_1m: Decimal = ZERO  # per million characters sent to a voice

    @property
    def free(self) -> bool:
        """Whether every rate is zero (a local service)."""
        return not any(getattr(self, key) for key in _PRICE_KEYS)

    def cost(self, record: UsageRecord) -> tuple[Decimal, bool]:
        """Return the cost of `record` and whether this price covers what it measured.

        A price "covers" a record when it is free, the record measured nothing, or at least one
        measured quantity has a rate. A voice priced per minute and a record with characters but
        no seconds is not covered: its cost is unknown, not zero.
        """
        per_million = ZERO
        measured = covered = False
        for amount, rate in (
            (record.input_tokens, self.input_per_1m),
            (record.output_tokens, self.output_per_1m),
            (record.characters, self.characters_per_1m),
        ):
            if amount:
                measured = True
                if rate:
                    covered = True
                    per_million += amount * rate
        total = per_million.scaleb(-6)
        if record.images:
            measured = True
            if self.per_image:
                covered = True
                total += record.images * self.per_image
        if record.audio_seconds:
            measured = True
            if self.audio_per_minute:
                covered = True
                millis = Decimal(round(record.audio_seconds * 1000))
                total += millis * self.audio_per_minute / 60000
        return total.quantize(COST_QUANTUM), covered or not measured or self.free

    def to_dict(self) -> dict[str, str]:
        """JSON form: the non-zero rates as strings, and the currency."""
        data = {key: str(getattr(self, key)) for key in _PRICE_KEYS if getattr(self, key)}
        return {"currency": self.currency, **data}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], currency: str) -> Price:
        """Read one model's entry; `currency` applies unless the entry names its own."""
        unknown = set(data) - {*_PRICE_KEYS, "currency"}
        if unknown:
            raise PriceError(f"unknown price keys: {', '.join(sorted(unknown))}")
        rates = {key: to_decimal(data[key], what=key) for key in _PRICE_KEYS if key in data}
        return cls(currency=str(data.get("currency", currency)).upper(), **rates)


@dataclass(frozen=True, slots=True)
class PriceTable:
    """Prices of one preset (or one connection's overrides), by model or voice name."""

    currency: str
    models: Mapping[str, Price]
    source: str | None = None
    as_of: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PriceTable:
        """Read `{"currency": "USD", "models": {"name": {...}}, "source": ..., "as_of": ...}`."""
        unknown = set(data) - {"currency", "models", "source", "as_of"}
        if unknown:
            raise PriceError(f"unknown price table keys: {', '.join(sorted(unknown))}")
        currency = str(data.get("currency", DEFAULT_CURRENCY)).upper()
        models = data.get("models", {})
        if not isinstance(models, Mapping):
            raise PriceError("models must map model or voice names to prices")
        return cls(
            currency=currency,
            models={
                str(name).lower(): Price.from_dict(entry, currency)
                for name, entry in models.items()
            },
            source=data.get("source"),
            as_of=data.get("as_of"),
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the form `from_dict` reads."""
        models: dict[str, dict[str, str]] = {}
        for name, price in self.models.items():
            entry = price.to_dict()
            if entry["currency"] == self.currency:
                del entry["currency"]
            models[name] = entry
        data: dict[str, Any] = {"currency": self.currency, "models": models}
        if self.source:
            data["source"] = self.source
        if self.as_of:
            data["as_of"] = self.as_of
        return data

    def find(self, model: str | None, voice: str | None) -> Price | None:
        """Return the price of `model` (then `voice`, then any model), else None.

        Names match case-insensitively, and a dated snapshot matches its base name:
        "gpt-4o-mini-2024-07-18" and "doubao-seed-1-6-flash-250828" find "gpt-4o-mini" and
        "doubao-seed-1-6-flash" when no exact entry exists.
        """
        for name in (model, voice):
            if name:
                key = name.lower()
                price = self.models.get(key) or self.models.get(_SNAPSHOT.sub("", key))
                if price is not None:
                    return price
        return self.models.get(ANY_MODEL)


_SNAPSHOT: Final = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{4}|\d{6})$")


@cache
def default_tables() -> Mapping[str, PriceTable]:
    """Return the preset price tables of prices.json (read once: the first call blocks)."""
    data = json.loads(PRICES_FILE.read_text(encoding="utf-8"), parse_float=Decimal)
    if data.get("version") != 1:
        raise ValueError(f"{PRICES_FILE.name}: unsupported version {data.get('version')!r}")
    return {preset: PriceTable.from_dict(table) for preset, table in data["presets"].items()}


class PriceBook:
    """Prices per preset and model, per-connection overrides, and currency conversion.

    `currency` is the user's (Home Assistant's) currency. `rates` converts others into it:
    `{"USD": "0.92"}` means one US dollar is 0.92 of `currency`. A price in a currency with no
    rate is not converted: its records keep their own currency and the rollups count them apart
    (`Totals.other_costs`). `overrides` maps a connection id to a table of the same shape as a
    preset's; its models win over the preset's, and its "*" entry matches every model.

    Without `tables` the defaults of prices.json are used: the first such book reads the file
    (blocking I/O: build it in an executor job, or call `default_tables()` there first).
    """

    def __init__(
        self,
        tables: Mapping[str, PriceTable] | None = None,
        *,
        currency: str = DEFAULT_CURRENCY,
        rates: Mapping[str, object] | None = None,
        overrides: Mapping[str, PriceTable | Mapping[str, Any]] | None = None,
    ) -> None:
        self.tables: Mapping[str, PriceTable] = default_tables() if tables is None else tables
        self.currency = currency.upper()
        self.rates: dict[str, Decimal] = {
            code.upper(): to_decimal(rate, what=f"rate {code}")
            for code, rate in (rates or {}).items()
        }
        self.overrides: dict[str, PriceTable] = {
            provider: table if isinstance(table, PriceTable) else PriceTable.from_dict(table)
            for provider, table in (overrides or {}).items()
        }
        self._cache: dict[tuple[str, str, str | None, str | None], Price | None] = {}

    def set_override(self, provider: str, table: PriceTable | None) -> None:
        """Replace (None: remove) one connection's own prices; later records use them."""
        if table is None:
            self.overrides.pop(provider, None)
        else:
            self.overrides[provider] = table
        self._cache.clear()

    def lookup(
        self, provider: str, preset: str, model: str | None, voice: str | None = None
    ) -> Price | None:
        """Return the price that applies to a call, or None when none is known."""
        key = (provider, preset, model, voice)
        try:
            return self._cache[key]
        except KeyError:
            pass
        price = None
        override = self.overrides.get(provider)
        if override is not None:
            price = override.find(model, voice)
        if price is None and (table := self.tables.get(preset)) is not None:
            price = table.find(model, voice)
        self._cache[key] = price
        return price

    def price(self, record: UsageRecord) -> UsageRecord:
        """Return `record` with its cost, currency and `priced` flag filled in."""
        entry = self.lookup(record.provider, record.preset, record.model, record.voice)
        if entry is None:
            return replace(record, cost=ZERO, currency=self.currency, priced=False)
        cost, covered = entry.cost(record)
        currency = entry.currency if cost else self.currency  # nothing is nothing anywhere
        if currency != self.currency and (rate := self.rates.get(currency)) is not None:
            cost, currency = (cost * rate).quantize(COST_QUANTUM), self.currency
        return replace(record, cost=cost, currency=currency, priced=covered)


# --- rollups ------------------------------------------------------------------------------


@dataclass(slots=True)
class Totals:
    """What a set of records consumed and cost.

    `cost` is in the ledger currency; `other_costs` holds costs in currencies without a
    conversion rate (they are not in `cost`, and budgets do not count them).
    """

    records: int = 0
    failed: int = 0  # calls that did not answer
    unpriced: int = 0  # calls with no known price (counted as 0 in `cost`)
    cost: Decimal = ZERO
    other_costs: dict[str, Decimal] = field(default_factory=dict)
    input_tokens: int = 0
    output_tokens: int = 0
    images: int = 0
    audio_seconds: float = 0.0
    tts_characters: int = 0
    characters_saved: int = 0

    def add(self, record: UsageRecord, currency: str) -> None:
        """Count one priced record; `currency` is the ledger's."""
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
        self.input_tokens += record.input_tokens
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
        self.cost += other.cost
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
        if self.cost:
            data["cost"] = str(self.cost)
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
        result.cost = Decimal(data.get("cost", "0"))
        result.other_costs = {c: Decimal(v) for c, v in data.get("other_costs", {}).items()}
        result.audio_seconds = float(data.get("audio_seconds", 0.0))
        return result


_COUNTS: Final = (
    "records",
    "failed",
    "unpriced",
    "input_tokens",
    "output_tokens",
    "images",
    "tts_characters",
    "characters_saved",
)


def scope_key(scope: Scope, key: str | None = None) -> str:
    """Return the rollup key of a scope: "total", or e.g. "provider:<connection id>"."""
    if scope is Scope.TOTAL:
        return "total"
    if key is None:
        raise ValueError(f"scope {scope} needs a key")
    return f"{scope}:{key}"


type Rollups = dict[str, dict[str, Totals]]
type Row = tuple[Any, ...]


# --- storage ------------------------------------------------------------------------------


class Store(Protocol):
    """Where the ledger keeps its state (Home Assistant's `helpers.storage.Store` behind a shim)."""

    async def load(self) -> dict[str, Any] | None:
        """Return the last saved data, or None when nothing was saved yet."""
        ...

    async def save(self, data: dict[str, Any]) -> None:
        """Save `data` (JSON-ready; the ledger never mutates it afterwards)."""
        ...


class MemoryStore:
    """A `Store` in memory: for tests, benchmarks and a ledger that need not survive restarts."""

    def __init__(self, data: dict[str, Any] | None = None) -> None:
        self.data = data
        self.saves = 0

    async def load(self) -> dict[str, Any] | None:
        """Return what was saved last."""
        return self.data

    async def save(self, data: dict[str, Any]) -> None:
        """Keep `data`."""
        self.data = data
        self.saves += 1


# --- the ledger ---------------------------------------------------------------------------

type When = date | float | None


class Ledger:
    """Prices and keeps every provider call; one instance per integration.

    `record` is synchronous (the router's `on_attempt` calls it) and must run on the event loop
    thread, where it schedules saves; without a running loop, call `flush` yourself. See the
    module docstring for the loss bound, retention and the optional `archive` store.
    """

    def __init__(
        self,
        store: Store,
        prices: PriceBook,
        *,
        archive: Store | None = None,
        tz: tzinfo | str = UTC,
        clock: Callable[[], float] = time.time,
        flush_interval: float = 10.0,
        max_batch: int = 50,
        raw_days: int = 30,
        rollup_months: int = 13,
    ) -> None:
        if flush_interval <= 0 or max_batch < 1 or raw_days < 1 or rollup_months < 1:
            raise ValueError("flush_interval, max_batch, raw_days and rollup_months must be > 0")
        self.prices = prices
        self.tz: tzinfo = ZoneInfo(tz) if isinstance(tz, str) else tz
        self.flush_interval = flush_interval
        self.max_batch = max_batch
        self.raw_days = raw_days
        self.rollup_months = rollup_months
        self._store = store
        self._archive = archive
        self._clock = clock
        # Raw rows of days before the current one (`_old`, archived) and of the current day.
        self._old: deque[Row] = deque()
        self._new: deque[Row] = deque()
        self._days: Rollups = {}
        self._months: Rollups = {}
        # Serialised rollups per period key, rebuilt only for the periods touched since.
        self._saved_form: dict[Period, dict[str, dict[str, Any]]] = {p: {} for p in Period}
        self._touched: dict[Period, set[str]] = {p: set() for p in Period}
        self._span: tuple[float, float, str, str] | None = None  # the current local day
        self._cut, self._cut_key = float("-inf"), ""  # where the current day starts
        self._loaded = False
        # Saving.
        self._version = self._saved_version = 0
        self._archive_dirty = False
        # The start (time, day key) of the first day the archive does not hold, as last saved.
        self._confirmed: tuple[float, str] = (float("-inf"), "")
        self._unsaved = 0  # records not yet in a successful save
        self._batch = 0  # records since the last save started
        self._lock = asyncio.Lock()
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None
        self._again = False
        self._failing = False

    @property
    def currency(self) -> str:
        """The currency of `Totals.cost` (the price book's)."""
        return self.prices.currency

    @property
    def unsaved(self) -> int:
        """Records not yet saved: what a power cut now would lose."""
        return self._unsaved

    # --- recording ------------------------------------------------------------------------

    def record(self, record: UsageRecord) -> UsageRecord:
        """Price `record`, add it to the rollups and queue it for saving; return it priced."""
        priced = self.prices.price(record)
        day, month = self._keys(priced.time)
        currency = self.prices.currency
        keys = ["total", f"provider:{priced.provider}", f"kind:{priced.kind}"]
        if priced.profile is not None:
            keys.append(f"profile:{priced.profile}")
        if priced.endpoint is not None:
            keys.append(f"endpoint:{priced.endpoint}")
        for period, rollups, period_key in (
            (Period.DAY, self._days, day),
            (Period.MONTH, self._months, month),
        ):
            bucket = rollups.get(period_key)
            if bucket is None:
                bucket = rollups[period_key] = {}
            for key in keys:
                totals = bucket.get(key)
                if totals is None:
                    totals = bucket[key] = Totals()
                totals.add(priced, currency)
            self._touched[period].add(period_key)
        if priced.time >= self._cut:
            self._new.append(_row(priced))
        else:  # a late record for a day already archived
            self._old.append(_row(priced))
            self._archive_dirty = True
        self._changed(1)
        return priced

    def _keys(self, when: float) -> tuple[str, str]:
        """Return the local day ("2026-01-31") and month ("2026-01") keys of `when`."""
        span = self._span
        if span is not None and span[0] <= when < span[1]:
            return span[2], span[3]
        day = self.local_date(when).isoformat()
        if span is None or when >= span[1]:
            start, end = self.day_bounds(when)
            self._span = (start, end, day, day[:7])
            self._advance(start, day)
        return day, day[:7]

    def _advance(self, start: float, day: str) -> None:
        """Start a new current day: yesterday's rows become archive rows; drop expired data."""
        if start <= self._cut:
            return
        self._cut, self._cut_key = start, day
        new, old = self._new, self._old
        if any(row[0] < start for row in new):
            self._new = deque(row for row in new if row[0] >= start)
            old.extend(row for row in new if row[0] < start)
        self._archive_dirty = True
        cutoff = start - self.raw_days * _DAY_SECONDS
        while old and old[0][0] < cutoff:
            old.popleft()
        today = self.local_date(start)
        months_back = today.year * 12 + today.month - 1 - (self.rollup_months - 1)
        oldest = f"{months_back // 12:04d}-{months_back % 12 + 1:02d}"
        for period, rollups in ((Period.DAY, self._days), (Period.MONTH, self._months)):
            for key in [key for key in rollups if key[:7] < oldest]:
                del rollups[key]
                self._saved_form[period].pop(key, None)
                self._touched[period].discard(key)

    # --- queries --------------------------------------------------------------------------

    def now(self) -> float:
        """Return the ledger's clock (epoch seconds)."""
        return self._clock()

    def local_date(self, when: float) -> date:
        """Return the date in the ledger's time zone at epoch time `when`."""
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

    def _midnight(self, day: date) -> float:
        return datetime.combine(day, dt_time.min, tzinfo=self.tz).timestamp()

    def _period_key(self, period: Period, when: When) -> str:
        if when is None:
            when = self._clock()
        day = when if isinstance(when, date) else self.local_date(when)
        return day.isoformat() if period is Period.DAY else day.isoformat()[:7]

    def totals(
        self,
        period: Period,
        when: When = None,
        *,
        scope: Scope = Scope.TOTAL,
        key: str | None = None,
    ) -> Totals:
        """Totals of one local day or month (`when`: a date, an epoch time, or None for now)."""
        rollups = self._days if period is Period.DAY else self._months
        bucket = rollups.get(self._period_key(period, when), {})
        totals = bucket.get(scope_key(scope, key))
        return Totals() if totals is None else totals.copy()

    def day(
        self, when: When = None, *, scope: Scope = Scope.TOTAL, key: str | None = None
    ) -> Totals:
        """Totals of one local day (today by default)."""
        return self.totals(Period.DAY, when, scope=scope, key=key)

    def month(
        self, when: When = None, *, scope: Scope = Scope.TOTAL, key: str | None = None
    ) -> Totals:
        """Totals of one local month (this month by default)."""
        return self.totals(Period.MONTH, when, scope=scope, key=key)

    def breakdown(self, period: Period, when: When = None, *, scope: Scope) -> dict[str, Totals]:
        """Totals of one day or month per provider, profile, endpoint or kind."""
        rollups = self._days if period is Period.DAY else self._months
        prefix = f"{scope}:"
        return {
            key.removeprefix(prefix): totals.copy()
            for key, totals in rollups.get(self._period_key(period, when), {}).items()
            if key.startswith(prefix)
        }

    def periods(self, period: Period) -> list[str]:
        """Return the day or month keys that have rollups, oldest first."""
        return sorted(self._days if period is Period.DAY else self._months)

    def records(
        self, *, since: float | None = None, endpoint: str | None = None
    ) -> list[UsageRecord]:
        """Raw records kept (the last `raw_days` days), oldest first, optionally filtered."""
        rows = [
            row
            for row in (*self._old, *self._new)
            if (since is None or row[0] >= since) and (endpoint is None or row[6] == endpoint)
        ]
        rows.sort(key=lambda row: float(row[0]))
        return [_record(row) for row in rows]

    # --- persistence ----------------------------------------------------------------------

    async def load(self) -> None:
        """Read the saved state; call once, before or after the first records (they merge).

        With an archive, the archive holds the days before its "before" time and the main store
        the rest; a day the main store still holds although the archive has it too (the main
        store is trimmed on the save after the archive's) is read from the archive only.
        """
        if self._loaded:
            raise RuntimeError("the ledger was loaded already")
        self._loaded = True
        main = _checked(await self._store.load())
        archived = _checked(await self._archive.load()) if self._archive is not None else {}
        before = float(archived.get("before", float("-inf")))
        before_day = str(archived.get("before_day", ""))
        rows: list[Row] = []
        for data, keep in ((archived, None), (main, before)):
            saved = data.get("records", [])
            good = [tuple(row) for row in saved if len(row) == _ROW_LENGTH]
            if len(good) != len(saved):
                _LOGGER.warning("Ignored %s malformed ledger records", len(saved) - len(good))
            rows += good if keep is None else [row for row in good if float(row[0]) >= keep]
        rows += [*self._old, *self._new]  # calls recorded before `load`
        self._old, self._new = deque(), deque(sorted(rows, key=lambda row: float(row[0])))
        self._confirmed = (before, before_day)
        for data, day_filter in ((archived, ""), (main, before_day)):
            saved_currency = str(data.get("currency", self.currency))
            for period, rollups in ((Period.DAY, self._days), (Period.MONTH, self._months)):
                for period_key, bucket in data.get(f"{period}s", {}).items():
                    if period is Period.DAY and period_key < day_filter:
                        continue
                    mine = rollups.setdefault(period_key, {})
                    for key, value in bucket.items():
                        totals = Totals.from_dict(value)
                        totals.rebase(saved_currency, self.currency)
                        mine.setdefault(key, Totals()).merge(totals)
                    self._touched[period].add(period_key)
        # Split the rows at the start of today and apply retention, as on a day change.
        start, _ = self.day_bounds()
        self._cut = float("-inf")
        self._advance(start, self.local_date(start).isoformat())

    def _changed(self, records: int) -> None:
        """Note a change of state and schedule a save."""
        self._version += 1
        self._unsaved += records
        self._batch += records
        if self._batch >= self.max_batch:
            self._start_flush()
        else:
            self._arm()

    def _arm(self) -> None:
        """Arm the flush timer unless it is armed (needs a running loop; else flush by hand)."""
        if self._timer is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._timer = loop.call_later(self.flush_interval, self._start_flush)

    def _disarm(self) -> None:
        """Cancel the flush timer, if armed."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _start_flush(self) -> None:
        """Start a background save now (or once more after the one running)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._disarm()
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = loop.create_task(self._background_flush(), name="anima ledger flush")

    async def _background_flush(self) -> None:
        again = True
        while again:
            self._again = False
            try:
                await self.flush()
            except Exception:  # noqa: BLE001 - any store failure: keep the records, retry
                if not self._failing:
                    _LOGGER.warning(
                        "Saving the cost ledger failed; %s records kept in memory, retrying "
                        "every %s s",
                        self._unsaved,
                        self.flush_interval,
                        exc_info=True,
                    )
                self._failing = True
                return
            if self._failing:
                _LOGGER.info("Saving the cost ledger works again")
                self._failing = False
            again = self._again

    async def flush(self) -> None:
        """Save now if anything changed; on failure the records stay queued and it re-raises.

        With an archive, a day change saves the main store first (still holding every day the
        archive has not confirmed), then the archive; the main store drops those days on its
        next save. A failing archive therefore never loses a day.
        """
        async with self._lock:
            self._disarm()
            self._batch = 0
            archive_due = self._archive is not None and self._archive_dirty
            if self._version == self._saved_version and not archive_due:
                return
            version, unsaved = self._version, self._unsaved
            main, archived = self._snapshot()
            try:
                await self._store.save(main)
                self._saved_version = version
                self._unsaved -= unsaved
                if archived is not None and self._archive is not None:
                    self._archive_dirty = False
                    try:
                        await self._archive.save(archived)
                    except BaseException:
                        self._archive_dirty = True
                        raise
                    self._confirmed = (archived["before"], archived["before_day"])
            except BaseException:
                self._arm()  # retry after flush_interval
                raise

    async def close(self) -> None:
        """Save what is left (on unload or shutdown); re-raises a failing save."""
        self._disarm()
        if self._task is not None and not self._task.done():
            await self._task
        try:
            await self.flush()
        finally:
            self._disarm()  # a failed save re-armed it; nobody would run it now

    def _snapshot(self) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Return the main and (when due) archive state, JSON-ready; never mutated later."""
        forms = self._saved_form
        for period, rollups in ((Period.DAY, self._days), (Period.MONTH, self._months)):
            for period_key in self._touched[period]:
                if period_key in rollups:
                    bucket = rollups[period_key]
                    forms[period][period_key] = {k: t.to_dict() for k, t in bucket.items()}
            self._touched[period] = set()
        head = {"version": STORAGE_VERSION, "currency": self.currency, "timezone": str(self.tz)}
        days = forms[Period.DAY]
        if self._archive is None:
            return {
                **head,
                "records": [*self._old, *self._new],
                "days": dict(days),
                "months": dict(forms[Period.MONTH]),
            }, None
        before, before_day = self._confirmed
        rows = list(self._new)
        if before < self._cut:  # days the archive does not hold yet stay in the main store
            rows[:0] = [row for row in self._old if row[0] >= before]
        main = {
            **head,
            "records": rows,
            "days": {key: form for key, form in days.items() if key >= before_day},
            "months": dict(forms[Period.MONTH]),
        }
        if not self._archive_dirty:
            return main, None
        return main, {
            **head,
            "before": self._cut,
            "before_day": self._cut_key,
            "records": list(self._old),
            "days": {key: form for key, form in days.items() if key < self._cut_key},
        }


def _checked(data: dict[str, Any] | None) -> dict[str, Any]:
    """Return saved data ({} for none) after checking its version."""
    if not data:
        return {}
    if data.get("version") != STORAGE_VERSION:
        raise ValueError(f"unsupported ledger data version {data.get('version')!r}")
    return data


def totals_of(records: Iterable[UsageRecord], currency: str) -> Totals:
    """Add up priced records (for ad-hoc reports and tests)."""
    result = Totals()
    for record in records:
        result.add(record, currency)
    return result
