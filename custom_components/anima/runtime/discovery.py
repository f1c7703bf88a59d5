"""Offer adopted satellites as endpoints; give endpoints the services found over zeroconf.

A subentry cannot be discovered like a config entry, so each satellite that is not yet an
endpoint gets a fixable repair issue: "New satellite: Kitchen satellite. Bind it as an Anima
endpoint?" Fixing it binds the device with what is found on it (repairs.py); binding it by hand
or removing it clears the offer.

An Anima satellite announces its endpoint service (`_anima._tcp`) with the port of its Wyoming
satellite; the service belongs to the device of the Wyoming entry at that host and port.
"""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, entity_registry as er, issue_registry as ir
from homeassistant.util.hass_dict import HassKey

from ..const import DOMAIN, LOGGER
from ..core.endpoints import DEVICE, SERVICE
from ..core.profiles import PROFILE_ENDPOINT
from .issues import async_delete_issues_except

OFFER_PREFIX = "new_satellite_"
WYOMING = "wyoming"
#: Endpoint services announced since start-up, by the (host, port) of their satellite. Kept
#: apart from `AnimaData`: a zeroconf flow may come before the integration is set up.
ENDPOINT_SERVICES: HassKey[dict[tuple[str, int], str]] = HassKey(f"{DOMAIN}_endpoint_services")


def endpoint_service_of(hass: HomeAssistant, device: dr.BaseDeviceEntry) -> str | None:
    """Return the announced endpoint service (host:port) of a Wyoming satellite's device."""
    entry = hass.config_entries.async_get_entry(device.config_entry_id)
    if entry is None or entry.domain != WYOMING:
        return None
    satellite = (str(entry.data.get("host")), int(entry.data.get("port", 0)))
    return hass.data.get(ENDPOINT_SERVICES, {}).get(satellite)


@callback
def async_found_endpoint_service(
    hass: HomeAssistant, hub: ConfigEntry | None, host: str, satellite_port: int, port: int
) -> None:
    """Remember an announced endpoint service; the endpoint bound to its satellite takes it."""
    hass.data.setdefault(ENDPOINT_SERVICES, {})[host, satellite_port] = f"{host}:{port}"
    if hub is None:
        return
    devices = dr.async_get(hass)
    for subentry in list(hub.subentries.values()):
        if subentry.subentry_type != PROFILE_ENDPOINT:
            continue
        device = devices.async_get(str(subentry.data.get(DEVICE)))
        service = endpoint_service_of(hass, device) if device is not None else None
        if service is not None and service != subentry.data.get(SERVICE):
            LOGGER.info("%s: endpoint service found at %s", subentry.title, service)
            hass.config_entries.async_update_subentry(
                hub, subentry, data={**subentry.data, SERVICE: service}
            )


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
