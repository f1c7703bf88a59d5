"""The currency costs are shown in, and cost statistics that stay coherent when it changes.

The ledger keeps dollars (core/ledger/money.py); what sensors and budgets show is the hub's
currency (its options, else Home Assistant's) at the hub's rates, else the reference rates.

Home Assistant's recorder keeps long-term statistics of every cost sensor in the unit it first
saw, and stops compiling them when the unit changes (a currency cannot be converted by it). So
when the shown currency or its rate changes, the cost sensors go unavailable until the next
five-minute statistics period starts; then the period before is compiled in the old unit, the
recorded statistics (five-minute and hourly: state and sum) are converted at the new rate under
the new unit, and the sensors come back in it. The graphs then show one currency throughout.
The currency shown last is saved, so a change made while Home Assistant was stopped (or by an
upgrade) is converted too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.helpers.recorder import get_instance
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from ..const import CURRENCY, DOMAIN, LOGGER, RATE
from ..core.ledger import LEDGER_CURRENCY, MissingRateError, Money, PriceBook, money_for

STORE_KEY: Final = f"{DOMAIN}.money"
#: The keys of the sensors that show money (unique id `<device>-<key>`): sensor.py's.
MONEY_SENSOR_KEYS: Final = ("cost_day", "cost_month", "cost_with_plans_month", "cache_saved_day")
#: Seconds after a five-minute boundary at which the previous period is compiled and converted.
_AFTER_BOUNDARY: Final = 2.0
_PERIOD: Final = timedelta(minutes=5)


def _legacy(options: Mapping[str, Any]) -> tuple[str, Decimal]:
    """Return what an Anima that saved no shown currency showed: the option's, at its rate."""
    currency = str(options.get(CURRENCY) or LEDGER_CURRENCY).strip().upper()
    rate = options.get(RATE)
    same = currency == LEDGER_CURRENCY or not rate
    return currency, Decimal(1) if same else Decimal(str(rate))


class ShownMoney:
    """The shown currency and its rates; converts recorded cost statistics when they change."""

    def __init__(self, hass: HomeAssistant, prices: PriceBook) -> None:
        """Show dollars until `configure`; `prices` gets the rates into dollars."""
        self.hass = hass
        self.prices = prices
        self.money = Money(LEDGER_CURRENCY, {LEDGER_CURRENCY: Decimal(1)})
        #: Called when the cost sensors must show again (unavailable while converting, back).
        self.on_change: Callable[[], None] = lambda: None
        self._store: Store[dict[str, str]] = Store(hass, 1, STORE_KEY)
        self._recorded: tuple[str, Decimal] | None = None  # what the statistics are in
        self._task: asyncio.Task[None] | None = None
        self._waiting = False
        self._warned: set[str] = set()

    async def async_load(self) -> None:
        """Read the currency shown last (None for an Anima that never saved one)."""
        if (data := await self._store.async_load()) is not None:
            self._recorded = (data["currency"], Decimal(data["per_usd"]))

    @property
    def converting(self) -> bool:
        """Whether recorded statistics are being converted (the cost sensors wait for it)."""
        return self._waiting

    @callback
    def configure(self, options: Mapping[str, Any]) -> None:
        """Show costs as the hub's options say (else in Home Assistant's currency)."""
        shown = str(options.get(CURRENCY) or self.hass.config.currency)
        currencies = self.prices.currencies()
        try:
            money = money_for(shown, options, currencies, skip_missing=True)
        except MissingRateError as err:  # no rate for dollars: show what the prices are in
            self._warn(f"No rate of {err.currency} in {err.shown} is known; showing dollars")
            money = money_for(LEDGER_CURRENCY, options, currencies, skip_missing=True)
        for code in sorted(currencies - set(money.worth)):
            self._warn(f"No rate of {code} in {money.shown}: its costs are not counted")
        self.money = money
        self.prices.rates = money.ledger_rates()
        if self._recorded is None:
            self._recorded = _legacy(options)
        if self._recorded != self._now() and self._task is None:
            self._task = self.hass.async_create_background_task(
                self._async_convert(), "anima cost statistics conversion"
            )
        self.on_change()

    def _now(self) -> tuple[str, Decimal]:
        return self.money.shown, self.money.per_ledger_unit

    def _warn(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            LOGGER.warning(message)

    async def _async_convert(self) -> None:
        """Convert the recorded statistics to what is shown now (again if it changes meanwhile)."""
        try:
            while self._recorded is not None and self._recorded != (target := self._now()):
                if ids := await self._recorded_in(self._recorded[0]):
                    self._waiting = True
                    self.on_change()  # unavailable until the new period
                    await self._next_period()
                    await _async_rewrite(self.hass, ids, self._recorded, target)
                self._recorded = target
                await self._store.async_save({"currency": target[0], "per_usd": str(target[1])})
        finally:
            self._waiting, self._task = False, None
            self.on_change()  # back, in the new unit

    async def _recorded_in(self, unit: str) -> set[str]:
        """Return the cost sensors whose statistics the recorder keeps in `unit`."""
        if "recorder" not in self.hass.config.components:
            return set()
        from homeassistant.components.recorder.statistics import get_metadata  # noqa: PLC0415

        ids = {
            entry.entity_id
            for entry in er.async_get(self.hass).entities.values()
            if entry.platform == DOMAIN
            and entry.domain == "sensor"
            and entry.unique_id.endswith(tuple(f"-{key}" for key in MONEY_SENSOR_KEYS))
        }
        if not ids:
            return set()
        metadata = await get_instance(self.hass).async_add_executor_job(
            lambda: get_metadata(self.hass, statistic_ids=ids)
        )
        return {key for key, (_, meta) in metadata.items() if meta["unit_of_measurement"] == unit}

    async def _next_period(self) -> None:
        """Wait until a new five-minute statistics period has begun."""
        now = dt_util.utcnow()
        start = now.replace(minute=now.minute - now.minute % 5, second=0, microsecond=0)
        begun: asyncio.Future[None] = self.hass.loop.create_future()

        @callback
        def reached(_: datetime) -> None:
            if not begun.done():
                begun.set_result(None)

        when = start + _PERIOD + timedelta(seconds=_AFTER_BOUNDARY)
        cancel = async_track_point_in_utc_time(self.hass, reached, when)
        try:
            await begun
        finally:
            cancel()


async def _async_rewrite(
    hass: HomeAssistant, ids: set[str], old: tuple[str, Decimal], new: tuple[str, Decimal]
) -> None:
    """Compile the period just ended, then convert every recorded row of the sensors `ids`."""
    from homeassistant.components.recorder.db_schema import (  # noqa: PLC0415
        Statistics,
        StatisticsShortTerm,
    )
    from homeassistant.components.recorder.models import StatisticMetaData  # noqa: PLC0415
    from homeassistant.components.recorder.statistics import (  # noqa: PLC0415
        get_metadata,
        statistics_during_period,
    )

    recorder = get_instance(hass)
    recorder.async_periodic_statistics()  # the period in the old unit, before it changes
    await recorder.async_block_till_done()
    factor = float(new[1] / old[1])
    metadata = await recorder.async_add_executor_job(lambda: get_metadata(hass, statistic_ids=ids))
    tables: tuple[tuple[type[Statistics | StatisticsShortTerm], Any], ...] = (
        (StatisticsShortTerm, "5minute"),
        (Statistics, "hour"),
    )
    for table, period in tables:
        rows = await recorder.async_add_executor_job(
            statistics_during_period,
            hass,
            dt_util.utc_from_timestamp(0),
            None,
            ids,
            period,
            None,
            {"last_reset", "state", "sum"},
        )
        for statistic_id, (_, meta) in metadata.items():
            converted: StatisticMetaData = {**meta, "unit_of_measurement": new[0]}
            data = list(_scaled(rows.get(statistic_id, ()), factor))
            recorder.async_import_statistics(converted, data, table)
    await recorder.async_block_till_done()
    LOGGER.info("Converted the statistics of %s cost sensors to %s", len(ids), new[0])


def _scaled(rows: Iterable[Mapping[str, Any]], factor: float) -> Iterable[Any]:
    """Return recorded statistics rows with their state and sum times `factor`."""
    for row in rows:
        reset = row.get("last_reset")
        data: dict[str, Any] = {
            "start": dt_util.utc_from_timestamp(row["start"]),
            "last_reset": None if reset is None else dt_util.utc_from_timestamp(reset),
        }
        for key in ("state", "sum"):
            if (value := row.get(key)) is not None:
                data[key] = value * factor
        yield data
