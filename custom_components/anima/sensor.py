"""Sensors: provider health, and usage and cost from the ledger.

- each connection: Health (diagnostic), cost today and this month (disabled while nothing it
  serves is priced: a free local server's costs are zero; pricing it enables them);
- the hub: cost today and this month for the whole house, tokens, TTS characters, audio
  seconds and images today, what the speech cache saved today, and this month with the fees of
  the billing plans (each plan's month in its attributes);
- each profile: its cost today and this month.

Usage sensors are totals that reset at local midnight (or on the first of the month) with
`last_reset`, so Home Assistant keeps long-term statistics of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import EntityCategory, UnitOfTime
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import entity_registry as er, translation
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.event import async_track_time_change
from homeassistant.util import dt as dt_util, slugify

from .const import DOMAIN, KIND, KIND_HUB, SIGNAL_ATTEMPT, SIGNAL_RECORDED
from .core.endpoints import DEVICE
from .core.health import Attempt, HealthState
from .core.ledger import Period, Scope, Totals
from .core.profiles import PROFILE_ENDPOINT
from .entity import AnimaEntity
from .providers.naming import entity_name
from .runtime.connections import AnimaConfigEntry, ConnectionConfigEntry
from .runtime.data import AnimaData
from .turn_sensor import LastTurnSensor

PARALLEL_UPDATES = 0
# Breakers close and cooldowns end with time, not with an event: look again now and then.
SCAN_INTERVAL = timedelta(seconds=15)


@dataclass(frozen=True, kw_only=True)
class UsageDescription(SensorEntityDescription):
    """A figure of one period's totals."""

    period: Period
    value: Callable[[Totals], float | Decimal]


def _money(key: str, period: Period, value: Callable[[Totals], Decimal]) -> UsageDescription:
    return UsageDescription(
        key=key,
        translation_key=key,
        period=period,
        device_class=SensorDeviceClass.MONETARY,
        state_class=SensorStateClass.TOTAL,
        suggested_display_precision=4,
        value=value,
    )


def _cost(period: Period) -> UsageDescription:
    return _money(f"cost_{period}", period, lambda totals: totals.cost)


COSTS = (_cost(Period.DAY), _cost(Period.MONTH))
HOUSE_USAGE = (
    _money("cache_saved_day", Period.DAY, lambda totals: totals.saved),
    UsageDescription(
        key="images_day",
        translation_key="images_day",
        period=Period.DAY,
        state_class=SensorStateClass.TOTAL,
        value=lambda totals: totals.images,
    ),
    UsageDescription(
        key="tokens_day",
        translation_key="tokens_day",
        period=Period.DAY,
        state_class=SensorStateClass.TOTAL,
        value=lambda totals: totals.input_tokens + totals.output_tokens,
    ),
    UsageDescription(
        key="tts_characters_day",
        translation_key="tts_characters_day",
        period=Period.DAY,
        state_class=SensorStateClass.TOTAL,
        value=lambda totals: totals.tts_characters,
    ),
    UsageDescription(
        key="audio_day",
        translation_key="audio_day",
        period=Period.DAY,
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.SECONDS,
        state_class=SensorStateClass.TOTAL,
        suggested_display_precision=0,
        value=lambda totals: round(totals.audio_seconds, 1),
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: AnimaConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the sensors of a connection or of the hub and its profiles."""
    if entry.data.get(KIND) != KIND_HUB:
        await _async_add_connection_sensors(hass, entry, async_add_entities)
        return
    async_add_entities(
        UsageSensor(d, entry.entry_id, (Scope.TOTAL, None)) for d in (*COSTS, *HOUSE_USAGE)
    )
    async_add_entities([PlansSensor(entry.entry_id)])
    for subentry_id, subentry in entry.subentries.items():
        owner: tuple[Scope, str | None] = (Scope.PROFILE, subentry_id)
        if subentry.subentry_type == PROFILE_ENDPOINT:  # spending of turns from the device
            owner = (Scope.ENDPOINT, subentry.data[DEVICE])
        entities: list[SensorEntity] = [UsageSensor(d, subentry_id, owner) for d in COSTS]
        if subentry.subentry_type == PROFILE_ENDPOINT:
            entities.append(LastTurnSensor(subentry_id, subentry.data[DEVICE]))
        async_add_entities(entities, config_subentry_id=subentry_id)


async def _async_add_connection_sensors(
    hass: HomeAssistant, entry: AnimaConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Add a connection's health and costs, with entity ids from its name, not its address."""
    priced = AnimaData.of(hass).meter.charges(entry.entry_id)
    provider = (Scope.PROVIDER, entry.entry_id)
    health = ProviderHealthSensor(entry)
    costs = [
        UsageSensor(replace(d, entity_registry_enabled_default=priced), entry.entry_id, provider)
        for d in COSTS
    ]
    # As Home Assistant makes entity ids (from the English names), but from the connection's
    # name: sensor.piper_health. Only new entities take them; registered ones keep theirs.
    names = await translation.async_get_translations(hass, "en", "entity", {DOMAIN})
    base = entity_name(entry.title, entry.data)
    for sensor in (health, *costs):
        name = names[f"component.{DOMAIN}.entity.sensor.{sensor.translation_key}.name"]
        sensor.entity_id = f"sensor.{slugify(f'{base} {name}')}"
    async_add_entities([health], update_before_add=True)
    async_add_entities(costs)


@callback
def async_show_costs(hass: HomeAssistant, entry: ConnectionConfigEntry) -> None:
    """Enable the cost sensors of a connection that is priced now (Anima disabled them)."""
    keys = {description.key for description in COSTS}
    registry = er.async_get(hass)
    for entity in er.async_entries_for_config_entry(registry, entry.entry_id):
        if entity.disabled_by is er.RegistryEntryDisabler.INTEGRATION and (
            entity.unique_id.removeprefix(f"{entry.entry_id}-") in keys
        ):
            registry.async_update_entity(entity.entity_id, disabled_by=None)


class UsageSensor(SensorEntity, AnimaEntity):
    """One figure of the ledger for one day or month, for the house, a provider or a profile."""

    _attr_should_poll = False
    entity_description: UsageDescription

    def __init__(
        self, description: UsageDescription, device: str, owner: tuple[Scope, str | None]
    ) -> None:
        """Show `description` of `owner`'s totals on Anima's device `device`."""
        super().__init__(device, description.key)
        self.entity_description = description
        self._scope, self._key = owner

    async def async_added_to_hass(self) -> None:
        """Refresh on every record, and when a new day or month starts."""
        self.async_on_remove(async_dispatcher_connect(self.hass, SIGNAL_RECORDED, self._refresh))
        self.async_on_remove(
            async_track_time_change(self.hass, self._refresh, hour=0, minute=0, second=0)
        )
        self._update()

    @callback
    def _refresh(self, *_: Any) -> None:
        self._update()
        self.async_write_ha_state()

    def _update(self) -> None:
        meter = self.anima.meter
        ledger = meter.ledger
        period = self.entity_description.period
        totals = ledger.totals(period, scope=self._scope, key=self._key)
        value = self.entity_description.value(totals)
        if self.entity_description.device_class is SensorDeviceClass.MONETARY:
            # While the recorded statistics move to a new currency, wait (money.py).
            self._attr_available = not meter.money.converting
            value = meter.shown(Decimal(value))
            self._attr_native_unit_of_measurement = meter.currency
        self._attr_native_value = value
        bounds = ledger.day_bounds() if period is Period.DAY else ledger.month_bounds()
        self._attr_last_reset = dt_util.utc_from_timestamp(bounds[0])


class PlansSensor(UsageSensor):
    """The house's month with the fees of the plans in use; each plan's month beside it.

    The state adds the licence and package fees to what the calls cost (the cost sensors show
    only the calls, at their marginal cost); the attributes show, per connection that offers a
    plan, this month under each plan and the cheapest.
    """

    def __init__(self, device: str) -> None:
        """Show the house's month on the hub's device."""
        plans = _money("cost_with_plans_month", Period.MONTH, lambda totals: totals.cost)
        super().__init__(plans, device, (Scope.TOTAL, None))

    def _update(self) -> None:
        super()._update()
        months = self.anima.meter.month_with_plans()
        fees = sum((month.fees for month in months.values()), Decimal(0))
        calls = self.anima.meter.shown(self.anima.meter.ledger.month().cost)
        self._attr_native_value = calls + fees
        entries = self.hass.config_entries
        self._attr_extra_state_attributes = {
            (entry.title if (entry := entries.async_get_entry(entry_id)) else entry_id): {
                "plan": str(month.in_use),
                **{
                    str(kind): None if cost is None else float(round(cost, 4))
                    for kind, cost in month.costs.items()
                },
                "cheapest": None if month.cheapest is None else str(month.cheapest),
            }
            for entry_id, month in months.items()
        }


class ProviderHealthSensor(SensorEntity, AnimaEntity):
    """Closed (in use), open (breaker tripped), half open, cooldown (rate limited), needs reauth."""

    _attr_translation_key = "health"
    _attr_device_class = SensorDeviceClass.ENUM
    _attr_entity_category = EntityCategory.DIAGNOSTIC

    def __init__(self, entry: ConfigEntry) -> None:
        """Attach the sensor to the connection's service device."""
        super().__init__(entry.entry_id, "health")
        self._entry_id = entry.entry_id
        self._attr_options = [state.value for state in HealthState]

    async def async_added_to_hass(self) -> None:
        """Refresh after every attempt on this provider."""

        @callback
        def attempted(attempt: Attempt) -> None:
            if attempt.provider_id == self._entry_id:
                self.async_schedule_update_ha_state(force_refresh=True)

        self.async_on_remove(async_dispatcher_connect(self.hass, SIGNAL_ATTEMPT, attempted))

    async def async_update(self) -> None:
        """Read the router's record of this provider."""
        router = self.anima.router
        self._attr_native_value = router.state(self._entry_id).value
        record: dict[str, Any] = router.snapshot().get(self._entry_id, {})
        self._attr_extra_state_attributes = {
            key: record.get(key) for key in ("consecutive_failures", "last_error", "retry_in")
        }
