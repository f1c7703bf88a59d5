"""The ledger inside Home Assistant: every router attempt becomes one priced usage record.

Entities open a `metered(...)` scope around their provider calls, saying what kind of call it is
and for which profile and endpoint; the router's `on_attempt` hook reads the scope and records
the attempt. Calls made through `Router.call` (speech-to-text, text-to-speech) learn their usage
only after the call (seconds heard, characters spoken), so their successful attempt is held in
the scope until the entity `settle`s it with that usage; failures are recorded at once.

The ledger saves through Home Assistant's `helpers.storage` at most 10 s after a record (so a
power cut loses at most the last 10 s of records) and on shutdown; see `ledger.py`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from homeassistant.const import EVENT_HOMEASSISTANT_FINAL_WRITE
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.storage import Store as HAStore
from homeassistant.util.hass_dict import HassKey

from .const import DOMAIN, LOGGER
from .ledger import (
    ANY_MODEL,
    PRESET_WYOMING,
    Kind,
    Ledger,
    PriceBook,
    PriceTable,
    UsageRecord,
    default_tables,
)
from .providers.base import Usage
from .providers.connection import KIND, KIND_WYOMING, PRESET
from .routing import Attempt, Outcome

METER: HassKey[Meter] = HassKey(f"{DOMAIN}_meter")
#: Dispatcher signal sent with each new record: the usage sensors refresh on it.
SIGNAL_RECORDED = f"{DOMAIN}_recorded"
STORAGE_KEY = f"{DOMAIN}.ledger"
ARCHIVE_KEY = f"{DOMAIN}.ledger_archive"
STORAGE_VERSION = 1
# Keys of the hub's options: the currency costs are shown in, and 1 USD in it.
CURRENCY = "currency"
RATE = "usd_rate"
#: A connection's options that override its default prices (for every model it serves).
PRICE_OPTIONS = (
    "input_per_1m",
    "output_per_1m",
    "per_image",
    "audio_per_minute",
    "characters_per_1m",
)


@dataclass(slots=True)
class CallScope:
    """What the provider calls made inside one `metered` block are for."""

    kind: Kind
    profile: str | None = None
    endpoint: str | None = None
    #: Hold a successful attempt until `Meter.settle` brings its usage.
    defer: bool = False
    failed_before: bool = False
    pending: Attempt | None = None


_SCOPE: ContextVar[CallScope | None] = ContextVar(f"{DOMAIN}_call_scope", default=None)


@contextmanager
def metered(
    kind: Kind, *, profile: str | None = None, endpoint: str | None = None, defer: bool = False
) -> Iterator[CallScope]:
    """Attribute the provider calls made inside the block to `kind`, profile and endpoint."""
    scope = CallScope(kind, profile, endpoint, defer)
    token = _SCOPE.set(scope)
    try:
        yield scope
    finally:
        _SCOPE.reset(token)


class _StoreShim:
    """`ledger.Store` over Home Assistant's storage helper."""

    def __init__(self, hass: HomeAssistant, key: str) -> None:
        self._store: HAStore[dict[str, Any]] = HAStore(hass, STORAGE_VERSION, key)

    async def load(self) -> dict[str, Any] | None:
        return await self._store.async_load()

    async def save(self, data: dict[str, Any]) -> None:
        await self._store.async_save(data)


class Meter:
    """Turns router attempts into ledger records; one per integration."""

    def __init__(self, hass: HomeAssistant, ledger: Ledger) -> None:
        """Wrap a loaded ledger."""
        self.hass = hass
        self.ledger = ledger
        #: The currency costs are shown in, and how many of it one ledger unit (USD) is. The
        #: ledger itself stays in its prices' currency, so changing this never rewrites history.
        self.currency = ledger.currency
        self.rate = Decimal(1)

    @callback
    def show_in(self, options: Mapping[str, Any]) -> None:
        """Show costs and take budgets in the hub's currency (its options), at its rate."""
        currency = str(options.get(CURRENCY) or self.ledger.currency).strip().upper()
        rate = options.get(RATE)
        self.currency = currency
        self.rate = (
            Decimal(1) if currency == self.ledger.currency or not rate else Decimal(str(rate))
        )

    def shown(self, amount: Decimal) -> Decimal:
        """Return an amount of the ledger's currency in the shown currency."""
        return amount * self.rate

    @callback
    def on_attempt(self, attempt: Attempt) -> None:
        """Record an attempt of the current scope (attempts outside any scope are not calls)."""
        scope = _SCOPE.get()
        if scope is None:
            LOGGER.debug("Attempt on %s outside a metered call", attempt.provider_id)
            return
        if attempt.outcome is Outcome.OK and scope.defer:
            scope.pending = attempt
            return
        self._record(scope, attempt, attempt.usage)
        if attempt.outcome is not Outcome.OK:
            scope.failed_before = True

    @callback
    def settle(
        self,
        scope: CallScope,
        usage: Usage,
        *,
        voice: str | None = None,
        characters_saved: int = 0,
    ) -> None:
        """Record the held successful attempt of `scope` with what it used (and shaping saved)."""
        if (attempt := scope.pending) is not None:
            scope.pending = None
            self._record(scope, attempt, usage, voice, characters_saved)

    def _record(
        self,
        scope: CallScope,
        attempt: Attempt,
        usage: Usage | None,
        voice: str | None = None,
        characters_saved: int = 0,
    ) -> None:
        record = self.ledger.record(
            UsageRecord.from_attempt(
                attempt,
                preset=self._preset(attempt.provider_id),
                kind=scope.kind,
                endpoint=scope.endpoint,
                profile=scope.profile,
                voice=voice,
                usage=usage,
                characters_saved=characters_saved,
                fallback=scope.failed_before,
            )
        )
        async_dispatcher_send(self.hass, SIGNAL_RECORDED, record)

    @callback
    def use_prices(self, entry_id: str, options: Mapping[str, Any]) -> None:
        """Price a connection's calls with its own rates (its options), if it has any."""
        rates = {key: options[key] for key in PRICE_OPTIONS if options.get(key) not in (None, "")}
        table = None
        if rates:
            currency = self.ledger.currency
            table = PriceTable.from_dict({"currency": currency, "models": {ANY_MODEL: rates}})
        self.ledger.prices.set_override(entry_id, table)

    def _preset(self, entry_id: str) -> str:
        entry = self.hass.config_entries.async_get_entry(entry_id)
        if entry is None or entry.data.get(KIND) == KIND_WYOMING:
            return PRESET_WYOMING
        return str(entry.data.get(PRESET, ""))


async def async_setup_meter(hass: HomeAssistant) -> Meter:
    """Load the ledger from storage and save it on shutdown."""
    tables = await hass.async_add_executor_job(default_tables)
    ledger = Ledger(
        _StoreShim(hass, STORAGE_KEY),
        PriceBook(tables),
        archive=_StoreShim(hass, ARCHIVE_KEY),
        tz=str(hass.config.time_zone),
    )
    await ledger.load()

    async def close(_: Event) -> None:
        await ledger.close()

    hass.bus.async_listen_once(EVENT_HOMEASSISTANT_FINAL_WRITE, close)
    meter = hass.data[METER] = Meter(hass, ledger)
    return meter
