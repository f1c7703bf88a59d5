"""Endpoints and Home Assistant's devices, both ways.

An endpoint binds a device of another integration (the ESPHome board, the Wyoming satellite:
what a turn's `device_id` names) and has a device of Anima's own (its cost and last-turn
sensors, its device triggers and logbook entries). Automations may name either.
"""

from __future__ import annotations

from typing import Literal

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import device_registry as dr

from ..const import DOMAIN, LOGGER
from ..core.endpoints import Endpoint
from ..core.profiles import PROFILE_ENDPOINT
from .hub import endpoint_registry, hub_entry


@callback
def anima_device_id(hass: HomeAssistant, key: str) -> str | None:
    """Return the id of Anima's device for `key`: an endpoint's (subentry id) or the hub's."""
    if (hub := hub_entry(hass)) is None:
        return None
    device = dr.async_get(hass).async_get_device_by_identifier((DOMAIN, key), hub.entry_id)
    return device.id if device else None


@callback
def endpoint_of_device(hass: HomeAssistant, device_id: str) -> Endpoint | None:
    """Return the endpoint a device id names: the bound device's, or the endpoint's own."""
    registry = endpoint_registry(hub_entry(hass))
    if (endpoint := registry.for_device(device_id)) is not None:
        return endpoint
    device = dr.async_get(hass).async_get(device_id)
    if device is None:
        return None
    ids = {key for domain, key in device.identifiers if domain == DOMAIN}
    return next((endpoint for endpoint in registry if endpoint.id in ids), None)


@callback
def anima_device_kind(hass: HomeAssistant, device_id: str) -> Literal["endpoint", "hub"] | None:
    """Whether a device is an endpoint's Anima device, the hub's, or neither."""
    device = dr.async_get(hass).async_get(device_id)
    hub = hub_entry(hass)
    if device is None or hub is None:
        return None
    ids = {key for domain, key in device.identifiers if domain == DOMAIN}
    if hub.entry_id in ids:
        return "hub"
    endpoints = {
        s.subentry_id for s in hub.subentries.values() if s.subentry_type == PROFILE_ENDPOINT
    }
    return "endpoint" if ids & endpoints else None


@callback
def async_remove_endpoint_of_device(hass: HomeAssistant, hub: ConfigEntry, device_id: str) -> bool:
    """Remove the endpoint that binds `device_id` or owns it as Anima's device; False: none."""
    endpoint = endpoint_of_device(hass, device_id)
    if endpoint is None or endpoint.id not in hub.subentries:
        return False
    LOGGER.info("Removing the endpoint %s: its device was deleted", endpoint.name)
    return hass.config_entries.async_remove_subentry(hub, endpoint.id)


@callback
def async_forget_deleted_devices(hass: HomeAssistant, hub: ConfigEntry) -> None:
    """Remove an endpoint when the device it binds goes (until the hub unloads).

    Deleted in Home Assistant, or its integration removed: the endpoint has nothing to bind.
    """

    @callback
    def changed(event: Event[dr.EventDeviceRegistryUpdatedData]) -> None:
        if event.data["action"] == "remove":
            async_remove_endpoint_of_device(hass, hub, event.data["device_id"])

    hub.async_on_unload(hass.bus.async_listen(dr.EVENT_DEVICE_REGISTRY_UPDATED, changed))
