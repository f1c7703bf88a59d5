"""The ledger inside Home Assistant: every router attempt becomes one priced usage record.

Each provider call (see calls.py) gets a `CallRecorder` saying what kind of call it is and for
which profile and endpoint; the router reports the call's attempts to it. Calls whose usage is
known only after the call (seconds heard, characters spoken) hold their successful attempt until
`settle` brings that usage; failures are recorded at once.

The ledger journals each record at once and saves its state to Home Assistant's storage at most
10 s after a record and on shutdown; a disk that refuses a save loses nothing (the records stay
in memory and the journal, the save is retried). See `core/ledger/ledger.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from homeassistant.const import EVENT_HOMEASSISTANT_FINAL_WRITE
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.json import json_bytes
from homeassistant.helpers.storage import STORAGE_DIR, Store as HAStore
from homeassistant.util import dt as dt_util

from ..const import DOMAIN, KIND, KIND_WYOMING, LOGGER, PRESET, PRICE_OPTIONS, SIGNAL_RECORDED
from ..core.health import Attempt, Outcome
from ..core.ledger import (
    ANY_MODEL,
    LEDGER_CURRENCY,
    OUTCOME_CACHE_HIT,
    PRESET_WYOMING,
    Kind,
    Ledger,
    Period,
    Plan,
    PlanError,
    PlanKind,
    PriceBook,
    PriceTable,
    Scope,
    UsageRecord,
    default_tables,
    month_costs,
    plan_in_use,
    plans_from_options,
    reference_rates,
)
from ..core.ledger.journal import FileJournal
from ..core.ledger.plans import PRICE_CURRENCY
from ..core.ledger.store import write_atomically
from ..providers.base import Usage
from .money import ShownMoney
from .speech_cache import SpokenSentence

STORAGE_KEY = f"{DOMAIN}.ledger"
ARCHIVE_KEY = f"{DOMAIN}.ledger_archive"
#: The ledger's journal segments, beside Home Assistant's storage files.
JOURNAL_NAME = f"{DOMAIN}.ledger.journal"
_HA_STORE_VERSION = 1  # the storage helper's own version, apart from the ledger's data version


class _StoreShim:
    """`core.ledger.Store` in a file of Home Assistant's storage, written atomically (fsync).

    Read through Home Assistant's storage helper, written in its format by the ledger itself:
    the helper logs a failed write (with a traceback each time) and returns as if it had saved,
    so the ledger would drop the journal that still held the records. A write that fails here
    raises, and the ledger keeps them.
    """

    def __init__(self, hass: HomeAssistant, key: str) -> None:
        self._hass = hass
        self._store: HAStore[dict[str, Any]] = HAStore(hass, _HA_STORE_VERSION, key)
        self._path = Path(hass.config.path(STORAGE_DIR, key))

    async def load(self) -> dict[str, Any] | None:
        return await self._store.async_load()

    async def save(self, data: dict[str, Any]) -> None:
        stored = {
            "version": self._store.version,
            "minor_version": self._store.minor_version,
            "key": self._store.key,
            "data": data,
        }
        await self._hass.async_add_executor_job(self._write, stored)

    def _write(self, stored: dict[str, Any]) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(self._path, json_bytes(stored))


@dataclass(frozen=True, slots=True)
class PlanMonth:
    """One connection's month so far under the plan it is on and each plan it offers."""

    in_use: PlanKind
    #: In the shown currency; None where a fee has no rate.
    costs: Mapping[PlanKind, Decimal | None]
    #: The fees of the plan in use this month (shown currency): not in the cost sensors.
    fees: Decimal = Decimal(0)

    @property
    def cheapest(self) -> PlanKind | None:
        """Return the plan that would have cost least this month."""
        known = [(cost, kind) for kind, cost in self.costs.items() if cost is not None]
        return min(known)[1] if known else None


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

    def __init__(self, hass: HomeAssistant, ledger: Ledger, money: ShownMoney) -> None:
        """Wrap a loaded ledger; `money` is the currency costs are shown in."""
        self.hass = hass
        self.ledger = ledger
        #: The shown currency and its rates; the ledger keeps dollars, so a change of the shown
        #: currency never rewrites history (money.py keeps the recorded statistics coherent).
        self.money = money
        self._hub_options: Mapping[str, Any] = {}
        #: The plans each connection offers (its options), for "this month under each plan".
        self._offers: dict[str, dict[PlanKind, Plan]] = {}

    @property
    def currency(self) -> str:
        """The currency costs are shown and budgets entered in."""
        return self.money.money.shown

    @property
    def rate(self) -> Decimal:
        """How many of the shown currency one ledger unit (a dollar) is."""
        return self.money.money.per_ledger_unit

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
        """Show costs and take budgets in the hub's currency (else Home Assistant's)."""
        self._hub_options = options
        self.money.configure(options)

    def shown(self, amount: Decimal) -> Decimal:
        """Return an amount of the ledger's currency in the shown currency."""
        return self.money.money.shown_amount(amount)

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
    def record_cache_hit(
        self, profile: str | None, endpoint: str | None, spoken: SpokenSentence
    ) -> None:
        """Book a sentence the speech cache played: nothing spent, what it saved counted."""
        record = self.ledger.record(
            UsageRecord(
                _now(),
                spoken.provider,
                self._preset(spoken.provider),
                Kind.TTS,
                model=spoken.model,
                voice=spoken.voice,
                endpoint=endpoint,
                profile=profile,
                characters=spoken.characters,
                audio_seconds=spoken.seconds,
                outcome=OUTCOME_CACHE_HIT,
            )
        )
        async_dispatcher_send(self.hass, SIGNAL_RECORDED, record)

    @callback
    def use_prices(self, entry_id: str, options: Mapping[str, Any]) -> None:
        """Price a connection's calls with its own rates and plan (its options), if any.

        Rates and fees are in the options' currency (older options had none: dollars).
        """
        currency = str(options.get(PRICE_CURRENCY) or LEDGER_CURRENCY).upper()
        rates = {key: options[key] for key in PRICE_OPTIONS if options.get(key) not in (None, "")}
        table = None
        if rates:
            table = PriceTable.from_dict({"currency": currency, "models": {ANY_MODEL: rates}})
        self.ledger.prices.set_override(entry_id, table)
        try:
            offers = plans_from_options(options, currency)
        except PlanError as err:  # the options flow refuses this; older options may hold it
            LOGGER.warning("Ignoring the billing plan of %s: %s", entry_id, err)
            offers = {}
        self._offers[entry_id] = offers
        plan = plan_in_use(options, offers)
        if plan is None:
            self.ledger.plans.pop(entry_id, None)
        else:
            self.ledger.plans[entry_id] = plan
        if self.ledger.prices.currencies() - set(self.money.money.worth):
            self.money.configure(self._hub_options)  # a currency that needs a rate now

    def charges(self, entry_id: str) -> bool:
        """Whether anything a connection serves has a price: its own rates, its preset's, a plan."""
        book = self.ledger.prices
        tables = (book.overrides.get(entry_id), book.tables.get(self._preset(entry_id)))
        return entry_id in self.ledger.plans or any(
            not price.free for table in tables if table for price in table.models.values()
        )

    def currencies_in_use(self) -> set[str]:
        """Return the currencies the house's connections are priced in (each needs a rate)."""
        book, used = self.ledger.prices, {LEDGER_CURRENCY}
        for entry in self.hass.config_entries.async_entries(DOMAIN):
            tables = [
                book.tables.get(self._preset(entry.entry_id)),
                book.overrides.get(entry.entry_id),
            ]
            for table in filter(None, tables):
                used |= {table.currency, *(price.currency for price in table.models.values())}
        return used | {plan.currency for plan in self.ledger.plans.values()}

    def month_with_plans(self) -> dict[str, PlanMonth]:
        """Return this month of each connection offering a plan, under each (shown currency)."""
        ledger, prices = self.ledger, self.ledger.prices
        result = {}
        for entry_id, offers in self._offers.items():
            if not offers:
                continue
            month = ledger.totals(Period.MONTH, scope=Scope.PROVIDER, key=entry_id)
            devices = ledger.devices.count(ledger.period_key(Period.MONTH), entry_id)
            costs = month_costs(offers, month, devices, prices.to_ledger)
            plan = ledger.plans.get(entry_id)
            in_use = PlanKind.METERED if plan is None else plan.kind
            fees = Decimal(0)
            if plan is not None and (fee := prices.to_ledger(plan.fee, plan.currency)) is not None:
                # The plan in use: what was booked under it (exact), and its fees.
                fees = fee * (devices if in_use is PlanKind.PER_DEVICE else 1)
                costs[in_use] = month.cost + fees
            result[entry_id] = PlanMonth(
                in_use,
                {kind: None if cost is None else self.shown(cost) for kind, cost in costs.items()},
                self.shown(fees),
            )
        return result

    def _preset(self, entry_id: str) -> str:
        entry = self.hass.config_entries.async_get_entry(entry_id)
        if entry is None or entry.data.get(KIND) == KIND_WYOMING:
            return PRESET_WYOMING
        return str(entry.data.get(PRESET, ""))


def _now() -> float:
    return dt_util.utcnow().timestamp()


async def async_setup_meter(hass: HomeAssistant) -> Meter:
    """Load the ledger from storage and its journal, and save it on shutdown."""
    tables = await hass.async_add_executor_job(default_tables)
    await hass.async_add_executor_job(reference_rates)  # read once, off the event loop
    journal = FileJournal(Path(hass.config.path(STORAGE_DIR)), JOURNAL_NAME)
    await journal.open()
    ledger = Ledger(
        _StoreShim(hass, STORAGE_KEY),
        PriceBook(tables),
        archive=_StoreShim(hass, ARCHIVE_KEY),
        journal=journal,
        tz=str(hass.config.time_zone),
        clock=_now,  # Home Assistant's clock, as its sensors' last_reset
    )
    await ledger.load()
    money = ShownMoney(hass, ledger.prices)
    await money.async_load()
    money.on_change = lambda: async_dispatcher_send(hass, SIGNAL_RECORDED, None)

    async def close(_: Event) -> None:
        try:
            await ledger.close()
        except OSError as err:
            LOGGER.warning(
                "The cost ledger could not be saved at shutdown (%s); its journal keeps the "
                "records for the next start",
                err,
            )
        await journal.close()

    hass.bus.async_listen_once(EVENT_HOMEASSISTANT_FINAL_WRITE, close)
    return Meter(hass, ledger, money)
