"""Prices: what each preset's models and voices cost, per-connection overrides, conversion.

Pure domain logic: no Home Assistant imports. The default tables are data (`prices.json` at the
integration's root); a connection's options may override them. Prices are applied when a call is
recorded, so a later price change never rewrites history.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import cache
import json
from pathlib import Path
import re
from typing import Any, Final

from .records import COST_QUANTUM, ZERO, Kind, UsageRecord

DEFAULT_CURRENCY: Final = "USD"
#: The preset id under which Wyoming connections are priced (they have no OpenAI preset).
PRESET_WYOMING: Final = "wyoming"
#: Model key of a price table that matches every model (local services: everything is free).
ANY_MODEL: Final = "*"
PRICES_FILE: Final = Path(__file__).parents[2] / "prices.json"
#: Characters a voice speaks in a minute (about 15 a second).
CHARACTERS_PER_MINUTE: Final = 900

_PRICE_KEYS: Final = (
    "input_per_1m",
    "output_per_1m",
    "per_image",
    "audio_per_minute",
    "characters_per_1m",
)
#: Per million input tokens read from the provider's prompt cache; unset: the input rate.
CACHED_INPUT: Final = "cached_input_per_1m"


class PriceError(ValueError):
    """A price table (e.g. a user's override) is invalid; the message names the key."""

    translation_key = "invalid_price"


#: No price, fee, rate or budget is this large: a bound keeps every cost computable exactly.
MAX_AMOUNT: Final = Decimal(10**9)


def to_decimal(value: object, *, what: str = "amount") -> Decimal:
    """Read money from JSON: a string, an int or a float (taken as written: 0.1 -> 0.1)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise PriceError(f"{what}: {value!r} is not a number")
    try:
        result = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    except ArithmeticError as err:
        raise PriceError(f"{what}: {value!r} is not a number") from err
    if not result.is_finite() or result < 0 or result >= MAX_AMOUNT:
        raise PriceError(f"{what}: {value!r} must be an amount from 0 to under {MAX_AMOUNT:,}")
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
    #: Per million input tokens the provider read from its prompt cache (None: the input rate).
    cached_input_per_1m: Decimal | None = None

    def rank(self, kind: Kind) -> Decimal:
        """Return what one typical unit of a `kind` call costs (to put a chain's cheapest first).

        Chat and vision: a million input and a million output tokens. Speech-to-text: a minute
        heard. Text-to-speech: a minute spoken, about `CHARACTERS_PER_MINUTE` characters, so
        voices priced per character and per minute compare.
        """
        if kind is Kind.STT:
            return self.audio_per_minute
        if kind is Kind.TTS:
            return self.audio_per_minute + self.characters_per_1m * CHARACTERS_PER_MINUTE / 10**6
        return self.input_per_1m + self.output_per_1m + self.per_image

    @property
    def free(self) -> bool:
        """Whether every rate is zero (a local service)."""
        return not any(getattr(self, key) for key in _PRICE_KEYS) and not self.cached_input_per_1m

    def cost(self, record: UsageRecord) -> tuple[Decimal, bool]:
        """Return the cost of `record` and whether this price covers what it measured.

        A price "covers" a record when it is free, the record measured nothing, or at least one
        measured quantity has a rate. A voice priced per minute and a record with characters but
        no seconds is not covered: its cost is unknown, not zero.
        """
        per_million = ZERO
        measured = covered = False
        # A provider reporting more cached tokens than it was sent is believed only up to those.
        cached = min(max(record.cached_input_tokens, 0), record.input_tokens)
        cached_rate = self.input_per_1m
        if self.cached_input_per_1m is not None:
            cached_rate = self.cached_input_per_1m
        for amount, rate in (
            (record.input_tokens - cached, self.input_per_1m),
            (cached, cached_rate),
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
        if self.cached_input_per_1m is not None:
            data[CACHED_INPUT] = str(self.cached_input_per_1m)
        return {"currency": self.currency, **data}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], currency: str) -> Price:
        """Read one model's entry; `currency` applies unless the entry names its own."""
        unknown = set(data) - {*_PRICE_KEYS, CACHED_INPUT, "currency"}
        if unknown:
            raise PriceError(f"unknown price keys: {', '.join(sorted(unknown))}")
        rates: dict[str, Any] = {
            key: to_decimal(data[key], what=key)
            for key in (*_PRICE_KEYS, CACHED_INPUT)
            if data.get(key) not in (None, "")
        }
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

    def currencies(self) -> set[str]:
        """Return every currency a price of this book is in (each needs a rate but one)."""
        tables = (*self.tables.values(), *self.overrides.values())
        return {table.currency for table in tables} | {
            price.currency for table in tables for price in table.models.values()
        }

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

    def to_ledger(self, amount: Decimal, currency: str) -> Decimal | None:
        """Return `amount` of `currency` in this book's currency (None: no rate for it)."""
        if currency.upper() == self.currency:
            return amount
        rate = self.rates.get(currency.upper())
        return None if rate is None else amount * rate

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
