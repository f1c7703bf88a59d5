"""The ledger inside Home Assistant: every router attempt becomes one priced usage record.

Each provider call (see calls.py) gets a `CallRecorder` saying what kind of call it is and for
which profile and endpoint; the router reports the call's attempts to it. Calls whose usage is
known only after the call (seconds heard, characters spoken) hold their successful attempt until
`settle` brings that usage; failures are recorded at once.

The ledger saves through Home Assistant's `helpers.storage` at most 10 s after a record (so a
power cut loses at most the last 10 s of records) and on shutdown; see `core/ledger/ledger.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from homeassistant.const import EVENT_HOMEASSISTANT_FINAL_WRITE
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.storage import STORAGE_DIR, Store as HAStore

from ..const import (
    CURRENCY,
    DOMAIN,
    KIND,
    KIND_WYOMING,
    PRESET,
    PRICE_OPTIONS,
    RATE,
    SIGNAL_RECORDED,
)
from ..core.health import Attempt, Outcome
from ..core.ledger import (
    ANY_MODEL,
    PRESET_WYOMING,
    Kind,
    Ledger,
    PriceBook,
    PriceTable,
    UsageRecord,
    default_tables,
)
from ..core.ledger.journal import FileJournal
from ..providers.base import Usage

STORAGE_KEY = f"{DOMAIN}.ledger"
ARCHIVE_KEY = f"{DOMAIN}.ledger_archive"
#: The ledger's journal segments, beside Home Assistant's storage files.
JOURNAL_NAME = f"{DOMAIN}.ledger.journal"
_HA_STORE_VERSION = 1  # the storage helper's own version, apart from the ledger's data version


class _StoreShim:
    """`core.ledger.Store` over Home Assistant's storage helper, written atomically (fsync)."""

    def __init__(self, hass: HomeAssistant, key: str) -> None:
        self._store: HAStore[dict[str, Any]] = HAStore(
            hass, _HA_STORE_VERSION, key, atomic_writes=True
        )

    async def load(self) -> dict[str, Any] | None:
        return await self._store.async_load()

    async def save(self, data: dict[str, Any]) -> None:
        await self._store.async_save(data)


class CallRecorder:
    """Records the attempts of one provider call, for its kind, profile and endpoint."""

    def __init__(
        self,
        meter: Meter,
        kind: Kind,
        *,
        profile: str | None = None,
        endpoint: str | None = None,
        defer: bool = False,
    ) -> None:
        """`defer`: hold a successful attempt until `settle` brings its usage."""
        self._meter = meter
        self.kind, self.profile, self.endpoint, self.defer = kind, profile, endpoint, defer
        self._failed_before = False
        self._pending: Attempt | None = None

    @callback
    def on_attempt(self, attempt: Attempt) -> None:
        """Record an attempt (a success of a deferred call waits for `settle`)."""
        if attempt.outcome is Outcome.OK and self.defer:
            self._pending = attempt
            return
        self._meter.record(self, attempt, attempt.usage)
        if attempt.outcome is not Outcome.OK:
            self._failed_before = True

    @callback
    def settle(self, usage: Usage, *, voice: str | None = None, characters_saved: int = 0) -> None:
        """Record the held successful attempt with what it used (and what shaping saved)."""
        if (attempt := self._pending) is not None:
            self._pending = None
            self._meter.record(self, attempt, usage, voice, characters_saved)

    @property
    def fell_back(self) -> bool:
        """Whether an attempt of this call failed before (a success is then a fallback)."""
        return self._failed_before


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

    def recorder(
        self,
        kind: Kind,
        *,
        profile: str | None = None,
        endpoint: str | None = None,
        defer: bool = False,
    ) -> CallRecorder:
        """Return a recorder for one call of `kind` for a profile and endpoint."""
        return CallRecorder(self, kind, profile=profile, endpoint=endpoint, defer=defer)

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
    def record(
        self,
        call: CallRecorder,
        attempt: Attempt,
        usage: Usage | None,
        voice: str | None = None,
        characters_saved: int = 0,
    ) -> None:
        """Price and keep one attempt of `call`; usage sensors and budgets refresh."""
        record = self.ledger.record(
            UsageRecord.from_attempt(
                attempt,
                preset=self._preset(attempt.provider_id),
                kind=call.kind,
                endpoint=call.endpoint,
                profile=call.profile,
                voice=voice,
                usage=usage,
                characters_saved=characters_saved,
                fallback=call.fell_back,
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
    """Load the ledger from storage and its journal, and save it on shutdown."""
    tables = await hass.async_add_executor_job(default_tables)
    journal = FileJournal(Path(hass.config.path(STORAGE_DIR)), JOURNAL_NAME)
    await journal.open()
    ledger = Ledger(
        _StoreShim(hass, STORAGE_KEY),
        PriceBook(tables),
        archive=_StoreShim(hass, ARCHIVE_KEY),
        journal=journal,
        tz=str(hass.config.time_zone),
    )
    await ledger.load()

    async def close(_: Event) -> None:
        await ledger.close()
        await journal.close()

    hass.bus.async_listen_once(EVENT_HOMEASSISTANT_FINAL_WRITE, close)
    return Meter(hass, ledger)
