"""Diagnostic sensors of a provider connection: what the router currently does with it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from homeassistant.components.sensor import SensorDeviceClass, SensorEntity
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import DOMAIN
from .hub import SIGNAL_ATTEMPT, async_get_router
from .routing import Attempt, HealthState

PARALLEL_UPDATES = 0
# Breakers close and cooldowns end with time, not with an event: look again now and then.
SCAN_INTERVAL = timedelta(seconds=15)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the health sensor of a provider connection."""
    async_add_entities([ProviderHealthSensor(entry)], update_before_add=True)


class ProviderHealthSensor(SensorEntity):
    """Closed (in use), open (breaker tripped), half open, cooldown (rate limited), needs reauth."""

    _attr_has_entity_name = True
    _attr_translation_key = "health"
    _attr_device_class = SensorDeviceClass.ENUM
    _attr_entity_category = EntityCategory.DIAGNOSTIC

    def __init__(self, entry: ConfigEntry) -> None:
        """Attach the sensor to the connection's service device."""
        self._attr_options = [state.value for state in HealthState]
        self._entry_id = entry.entry_id
        self._attr_unique_id = f"{entry.entry_id}-health"
        self._attr_device_info = dr.DeviceInfo(identifiers={(DOMAIN, entry.entry_id)})

    async def async_added_to_hass(self) -> None:
        """Refresh after every attempt on this provider."""

        @callback
        def attempted(attempt: Attempt) -> None:
            if attempt.provider_id == self._entry_id:
                self.async_schedule_update_ha_state(force_refresh=True)

        self.async_on_remove(async_dispatcher_connect(self.hass, SIGNAL_ATTEMPT, attempted))

    async def async_update(self) -> None:
        """Read the router's record of this provider."""
        router = async_get_router(self.hass)
        self._attr_native_value = router.state(self._entry_id).value
        record: dict[str, Any] = router.snapshot().get(self._entry_id, {})
        self._attr_extra_state_attributes = {
            key: record.get(key) for key in ("consecutive_failures", "last_error", "retry_in")
        }
