"""Budgets inside Home Assistant: evaluated after every record, shown as repair issues.

The house budget comes from the hub's options, endpoints' from their profiles (when endpoints
exist). After every ledger record, and when a new day or month starts, the budgets are
evaluated; a budget that trips to warning or exceeded raises a repair issue saying which, how
much was spent and when it resets, and the issue goes away when the level is back to normal
(a new period, a lift, a higher limit). Lifts (the `anima.lift_budget` action) are kept in
storage so a restart does not end them.
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
from homeassistant.util.hass_dict import HassKey

from .budgets import HOUSE, Budget, BudgetConfig, Budgets, BudgetStatus, Degradation, Level
from .const import DOMAIN
from .hub import connection_is_local, endpoint_registry
from .ledger import Ledger, to_decimal
from .metering import METER, SIGNAL_RECORDED
from .profiles import Link
from .providers.connection import PRESET

KEEPER: HassKey[BudgetKeeper] = HassKey(f"{DOMAIN}_budgets")
LIFTS_KEY = f"{DOMAIN}.budget_lifts"
# Keys of the hub's options.
HOUSE_DAILY = "house_daily"
HOUSE_MONTHLY = "house_monthly"
WARNING_PERCENT = "warning_percent"
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

    def __init__(self, hass: HomeAssistant, ledger: Ledger) -> None:
        """Start without budgets; `configure` sets them."""
        self.hass = hass
        self.ledger = ledger
        self.budgets = Budgets()
        self._store: Store[dict[str, float]] = Store(hass, 1, LIFTS_KEY)
        self._levels: dict[str | None, Level] = {}
        self._names: dict[str, str] = {}  # endpoint device id -> endpoint name

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
        meter = self.hass.data[METER]
        meter.show_in(entry.options)
        self._names = {endpoint.device_id: endpoint.name for endpoint in endpoints}
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

    async def async_lift(self, endpoint: str | None = HOUSE) -> float:
        """Suspend an endpoint's (or the house's) budgets until local midnight; return when."""
        until = self.budgets.lift(self.ledger, endpoint, now=self.ledger.now())
        await self._store.async_save(self.budgets.lifts_to_dict())
        self._changed()
        return until

    @callback
    def _changed(self, *_: Any) -> None:
        """Re-evaluate every budget and raise or clear its repair issue."""
        meter = self.hass.data[METER]
        for target, status in self.budgets.evaluate_all(self.ledger).items():
            if self._levels.get(target) is status.level:
                continue
            self._levels[target] = status.level
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


async def async_setup_budgets(hass: HomeAssistant) -> BudgetKeeper:
    """Make the integration's budget keeper over its ledger."""
    keeper = hass.data[KEEPER] = BudgetKeeper(hass, hass.data[METER].ledger)
    await keeper.async_load()
    return keeper


def links_within_budget(
    hass: HomeAssistant, links: Sequence[Link], degradation: Degradation
) -> tuple[Link, ...]:
    """Reorder (and at the limit, filter) a chain as the budget asks.

    Warning: the cheapest link goes first (by its output token price; local and unknown-priced
    links keep their place after priced ones). Exceeded: only local links remain.
    """
    if degradation.local_only:
        links = [link for link in links if connection_is_local(hass, link.connection)]
    if not degradation.prefer_cheapest:
        return tuple(links)
    prices = hass.data[METER].ledger.prices

    def rate(link: Link) -> Decimal:
        if connection_is_local(hass, link.connection):
            return Decimal(0)
        entry = hass.config_entries.async_get_entry(link.connection)
        preset = str(entry.data.get(PRESET, "")) if entry else ""
        price = prices.lookup(link.connection, preset, link.model, link.voice)
        return Decimal("Infinity") if price is None else price.output_per_1m + price.input_per_1m

    return tuple(sorted(links, key=rate))  # stable: equal rates keep the user's order
