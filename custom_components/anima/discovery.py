"""Offer satellites Home Assistant adopted (ESPHome, Wyoming) as endpoints to add.

A subentry cannot be discovered like a config entry, so each satellite that is not yet an
endpoint gets a fixable repair issue: "New satellite: Kitchen satellite. Bind it as an Anima
endpoint?" Fixing it binds the device with what is found on it (repairs.py); binding it by hand
or removing it clears the offer.
"""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, entity_registry as er, issue_registry as ir

from .const import DOMAIN
from .endpoints import DEVICE
from .issues import async_delete_issues_except
from .profiles import PROFILE_ENDPOINT

OFFER_PREFIX = "new_satellite_"


@callback
def async_offer_satellites(hass: HomeAssistant, hub: ConfigEntry) -> None:
    """Raise an offer for every satellite device that is not an endpoint; clear stale ones."""
    bound = {
        sub.data.get(DEVICE)
        for sub in hub.subentries.values()
        if sub.subentry_type == PROFILE_ENDPOINT
    }
    devices = dr.async_get(hass)
    offered: dict[str, str] = {}
    for entity in er.async_get(hass).entities.values():
        if entity.domain != "assist_satellite" or entity.device_id in bound:
            continue
        if entity.device_id and (device := devices.async_get(entity.device_id)) is not None:
            offered[device.id] = device.name_by_user or device.name or entity.entity_id
    async_delete_issues_except(hass, OFFER_PREFIX, offered)
    for device_id, name in offered.items():
        ir.async_create_issue(
            hass,
            DOMAIN,
            OFFER_PREFIX + device_id,
            is_fixable=True,
            is_persistent=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key="new_satellite",
            translation_placeholders={"name": name},
            data={DEVICE: device_id},
        )


@callback
def async_watch_satellites(hass: HomeAssistant, hub: ConfigEntry) -> None:
    """Offer satellites adopted while the hub runs (until it unloads)."""

    @callback
    def changed(event: Event[er.EventEntityRegistryUpdatedData]) -> None:
        if event.data["entity_id"].startswith("assist_satellite."):
            async_offer_satellites(hass, hub)

    hub.async_on_unload(hass.bus.async_listen(er.EVENT_ENTITY_REGISTRY_UPDATED, changed))
    async_offer_satellites(hass, hub)
