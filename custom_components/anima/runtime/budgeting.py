"""Budgets inside Home Assistant: evaluated after every record, shown as repair issues.

The house budget comes from the hub's options, endpoints' from their subentries. After every
ledger record, and when a new day or month starts, the budgets are evaluated; a budget that trips
to warning or exceeded raises a repair issue saying which, how much was spent and when it resets,
and the issue goes away when the level is back to normal (a new period, a lift, a higher limit).
Lifts (the `anima.lift_budget` action) are kept in storage so a restart does not end them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.dispatcher import async_dispatcher_connect, async_dispatcher_send
from homeassistant.helpers.event import async_track_time_change
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from ..const import (
    DOMAIN,
    EVENT_BUDGET,
    HOUSE_DAILY,
    HOUSE_MONTHLY,
    SIGNAL_RECORDED,
    WARNING_PERCENT,
)
from ..core.budgets import (
    HOUSE,
    Budget,
    BudgetConfig,
    Budgets,
    BudgetStatus,
    Degradation,
    Level,
    order_for_budget,
)
from ..core.ledger import ZERO, Kind, Period, Scope, to_decimal
from ..core.ledger.plans import covers
from ..core.profiles import Link
from .connections import connection_is_local, connection_preset
from .devices import anima_device_id
from .hub import endpoint_registry
from .metering import Meter

LIFTS_KEY = f"{DOMAIN}.budget_lifts"
_ISSUE_PREFIX = "budget_"


def budget_config(
    options: Mapping[str, Any],
    endpoints: Mapping[str, Budget] | None = None,
    rate: Decimal = Decimal(1),
) -> BudgetConfig:
    """Read the house budget from the hub's options (empty limits: no budget).

    Limits are entered in the shown currency; `rate` (shown per ledger unit) converts them.
    """

    def limit(key: str) -> Any:
        value = options.get(key)
        return None if value in (None, "") else to_decimal(value, what=key) / rate

    percent = options.get(WARNING_PERCENT, 80)
    return BudgetConfig(
        house=Budget(limit(HOUSE_DAILY), limit(HOUSE_MONTHLY)),
        endpoints=endpoints or {},
        warning_at=to_decimal(percent, what=WARNING_PERCENT) / 100,
    )


class BudgetKeeper:
    """The integration's budgets: configuration, lifts, current status, repair issues."""

    def __init__(self, hass: HomeAssistant, meter: Meter) -> None:
        """Start without budgets; `configure_from` sets them."""
        self.hass = hass
        self.meter = meter
        self.ledger = meter.ledger
        self.budgets = Budgets()
        self._store: Store[dict[str, float]] = Store(hass, 1, LIFTS_KEY)
        self._levels: dict[str | None, Level] = {}
        self._names: dict[str, str] = {}  # endpoint device id -> endpoint name
        #: Budget target (None: the house) -> the Anima device it belongs to (its identifier).
        self._owners: dict[str | None, str] = {}

    async def async_load(self) -> None:
        """Restore lifts."""
        lifts = await self._store.async_load() or {}
        self.budgets.restore_lifts(lifts, now=dt_util.utcnow().timestamp())

    @callback
    def watch(self, entry: ConfigEntry) -> None:
        """Use the hub's budgets and watch spending while the hub is loaded."""
        self.configure_from(entry)
        entry.async_on_unload(async_dispatcher_connect(self.hass, SIGNAL_RECORDED, self._changed))
        entry.async_on_unload(
            async_track_time_change(self.hass, self._changed, hour=0, minute=0, second=0)
        )

    @callback
    def configure_from(self, entry: ConfigEntry) -> None:
        """Use the limits of the hub's options and its endpoints, and re-evaluate."""
        endpoints = endpoint_registry(entry)
        meter = self.meter
        meter.show_in(entry.options)
        self._names = {endpoint.device_id: endpoint.name for endpoint in endpoints}
        self._owners = {None: entry.entry_id} | {e.device_id: e.id for e in endpoints}
        rate = meter.rate
        budgets = {
            device: Budget(*(None if v is None else v / rate for v in (b.daily, b.monthly)))
            for device, b in endpoints.budgets().items()
        }
        self.budgets.config = budget_config(entry.options, budgets, rate)
        self._changed()
        async_dispatcher_send(self.hass, SIGNAL_RECORDED, None)  # sensors: a new currency

    def status(self, endpoint: str | None = HOUSE) -> BudgetStatus:
        """Return the verdict for an endpoint (its own budget and the house's) or the house."""
        return self.budgets.evaluate(self.ledger, endpoint=endpoint)

    def within_budget(
        self, links: Sequence[Link], degradation: Degradation, kind: Kind
    ) -> tuple[Link, ...]:
        """Return a chain for a `kind` call as the budget asks.

        Cheapest first at a warning (by the price of that kind of call), local links only once
        it is exceeded.
        """
        ledger = self.ledger

        def rate(link: Link) -> Decimal | None:
            preset = connection_preset(self.hass, link.connection)
            price = ledger.prices.lookup(link.connection, preset, link.model, link.voice)
            if price is None:
                return None
            month = ledger.totals(Period.MONTH, scope=Scope.PROVIDER, key=link.connection)
            # The marginal cost: a licence or a package not yet used up adds nothing.
            return ZERO if covers(ledger.plans.get(link.connection), month) else price.rank(kind)

        return order_for_budget(
            links,
            degradation,
            is_local=lambda link: connection_is_local(self.hass, link.connection),
            rate=rate,
        )

    async def async_lift(self, endpoint: str | None = HOUSE) -> float:
        """Suspend an endpoint's (or the house's) budgets until local midnight; return when."""
        until = self.budgets.lift(self.ledger, endpoint, now=self.ledger.now())
        await self._store.async_save(self.budgets.lifts_to_dict())
        self._changed()
        return until

    @callback
    def _changed(self, *_: Any) -> None:
        """Re-evaluate every budget and raise or clear its repair issue."""
        meter = self.meter
        for target, status in self.budgets.evaluate_all(self.ledger).items():
            previous = self._levels.get(target)
            if previous is status.level:
                continue
            self._levels[target] = status.level
            if previous is not None:  # a change (the first look at a budget is none)
                self._fire(target, previous, status)
            issue_id = _ISSUE_PREFIX + (target or "house")
            check = status.tripped
            if check is None:
                ir.async_delete_issue(self.hass, DOMAIN, issue_id)
                continue
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                issue_id,
                is_fixable=False,
                severity=ir.IssueSeverity.WARNING
                if status.level is Level.WARNING
                else ir.IssueSeverity.ERROR,
                translation_key=f"budget_{status.level}",
                translation_placeholders={
                    "target": "the house" if target is None else self._names.get(target, target),
                    "period": str(check.period),
                    "spent": f"{meter.shown(check.spent):.4f}",
                    "limit": f"{meter.shown(check.limit):.4f}",
                    "currency": meter.currency,
                    "resets": dt_util.as_local(dt_util.utc_from_timestamp(check.resets_at))
                    .replace(microsecond=0)
                    .isoformat(sep=" "),
                },
            )

    @callback
    def _fire(self, target: str | None, previous: Level, status: BudgetStatus) -> None:
        """Fire `anima_budget`: a budget's level changed (device triggers, automations)."""
        meter = self.meter
        check = status.tripped or (status.checks[0] if status.checks else None)
        owner = anima_device_id(self.hass, self._owners.get(target, ""))
        self.hass.bus.async_fire(
            EVENT_BUDGET,
            {
                "device_id": owner,  # the endpoint's Anima device, or the hub's
                "satellite_device_id": target,
                "endpoint": None if target is None else self._names.get(target, target),
                "level": str(status.level),
                "previous": str(previous),
                "period": None if check is None else str(check.period),
                "spent": None if check is None else float(round(meter.shown(check.spent), 6)),
                "limit": None if check is None else float(round(meter.shown(check.limit), 6)),
                "currency": meter.currency,
            },
        )


async def async_setup_budgets(hass: HomeAssistant, meter: Meter) -> BudgetKeeper:
    """Make the integration's budget keeper over the meter's ledger, with its lifts."""
    keeper = BudgetKeeper(hass, meter)
    await keeper.async_load()
    return keeper
