"""Anima: multimodal AI endpoints for Home Assistant.

Two kinds of config entry:
- provider connections (an OpenAI-compatible service or a Wyoming server): set-up reaches the
  service and keeps the checked connection in `entry.runtime_data`; a health sensor shows what
  the router does with it;
- the hub: its subentries are profiles (agent, listener, voice) and endpoints, each with its
  entities; the chain of a profile is read at every call.

The live services (router, ledger, budgets, the call pipeline) are made once, in `async_setup`
(runtime/data.py).
"""

from __future__ import annotations

from typing import cast

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv, device_registry as dr
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.typing import ConfigType

from .const import DOMAIN, KIND, KIND_HUB, VALIDATION_TIMEOUT
from .entity import profile_device_info
from .providers.base import ProviderAuthError, ProviderError
from .providers.connection import ProviderConnection, open_connection
from .providers.naming import device_model, manufacturer
from .runtime.connections import AnimaConfigEntry, ConnectionConfigEntry
from .runtime.data import AnimaData, async_setup_data
from .runtime.devices import async_forget_deleted_devices, async_remove_endpoint_of_device
from .runtime.discovery import async_offer_satellites, async_watch_satellites
from .runtime.errors import translation
from .runtime.hub import HubConfigEntry, HubRuntime
from .runtime.issues import async_check_chains, async_check_pairings
from .runtime.local_turns import async_note_local_turns
from .runtime.looking import async_prefetch_on_listening
from .sensor import async_show_costs
from .services import async_setup_services

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)
CONNECTION_PLATFORMS = [Platform.SENSOR]
HUB_PLATFORMS = [
    Platform.AI_TASK,
    Platform.CAMERA,
    Platform.CONVERSATION,
    Platform.SELECT,
    Platform.SENSOR,
    Platform.STT,
    Platform.TTS,
]


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Make the integration's live services (router, cost ledger, budgets) and its actions."""
    await async_setup_data(hass)
    await async_setup_services(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: AnimaConfigEntry) -> bool:
    """Set up the hub's profiles, or reach a provider (a rejected key starts reauth)."""
    # The entry's kind says what its runtime data is.
    if entry.data[KIND] == KIND_HUB:
        entry.runtime_data = HubRuntime.of(entry)
        await _async_setup_hub(hass, cast(HubConfigEntry, entry))
    else:
        entry.runtime_data = await _async_connect(hass, entry)
        await _async_setup_connection(hass, cast(ConnectionConfigEntry, entry))
    return True


async def _async_setup_hub(hass: HomeAssistant, entry: HubConfigEntry) -> None:
    AnimaData.of(hass).budgets.watch(entry)
    async_watch_satellites(hass, entry)
    async_prefetch_on_listening(hass, entry)
    AnimaData.of(hass).coordination.watch(entry)
    async_note_local_turns(hass, entry)
    # The hub's service device carries the house's usage and cost sensors; each profile has
    # one too, made here so that every platform finds it named (they set up concurrently).
    devices = dr.async_get(hass)
    devices.async_get_or_create(
        config_entry_id=entry.entry_id,
        identifiers={(DOMAIN, entry.entry_id)},
        name=entry.title,
        manufacturer="Anima",
        model="Hub",
        entry_type=dr.DeviceEntryType.SERVICE,
    )
    for subentry in entry.subentries.values():
        devices.async_get_or_create(
            config_entry_id=entry.entry_id,
            config_subentry_id=subentry.subentry_id,
            **profile_device_info(hass, subentry),
        )
    await hass.config_entries.async_forward_entry_setups(entry, HUB_PLATFORMS)
    entry.async_on_unload(entry.add_update_listener(_async_hub_updated))
    async_check_chains(hass)
    async_check_pairings(hass, entry)
    async_forget_deleted_devices(hass, entry)


async def _async_connect(hass: HomeAssistant, entry: AnimaConfigEntry) -> ProviderConnection:
    """Reach the provider; a rejected key starts reauth, anything else a retry."""
    try:
        return await open_connection(
            async_get_clientsession(hass), entry.data, timeout=VALIDATION_TIMEOUT
        )
    except ProviderAuthError as err:
        raise ConfigEntryAuthFailed(**translation(err.translation_key, name=entry.title)) from err
    except ProviderError as err:
        raise ConfigEntryNotReady(**translation(err.translation_key, name=entry.title)) from err


async def _async_setup_connection(hass: HomeAssistant, entry: ConnectionConfigEntry) -> None:
    anima = AnimaData.of(hass)
    # A fresh set-up (after reauth, say) starts with a clean record.
    anima.router.reset(entry.entry_id)
    anima.meter.use_prices(entry.entry_id, entry.options)
    entry.async_on_unload(entry.add_update_listener(_async_connection_updated))
    # One service device per connection: where its health and usage entities live.
    dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id,
        identifiers={(DOMAIN, entry.entry_id)},
        name=entry.title,
        manufacturer=manufacturer(entry.data),
        model=device_model(entry.runtime_data),
        entry_type=dr.DeviceEntryType.SERVICE,
    )
    await hass.config_entries.async_forward_entry_setups(entry, CONNECTION_PLATFORMS)


async def async_unload_entry(hass: HomeAssistant, entry: AnimaConfigEntry) -> bool:
    """Unload the entry's platforms; connections hold no sockets between calls."""
    platforms = HUB_PLATFORMS if entry.data[KIND] == KIND_HUB else CONNECTION_PLATFORMS
    return await hass.config_entries.async_unload_platforms(entry, platforms)


async def async_remove_entry(hass: HomeAssistant, entry: AnimaConfigEntry) -> None:
    """Name the profiles left without a connection this removal takes away."""
    if entry.data[KIND] != KIND_HUB:
        async_check_chains(hass, {entry.entry_id: entry.title})


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: AnimaConfigEntry, device: dr.DeviceEntry
) -> bool:
    """Remove the endpoint whose device the user deletes.

    The hub's, a profile's and a connection's devices go with their entry or profile.
    """
    if entry.data[KIND] != KIND_HUB:
        return False
    return async_remove_endpoint_of_device(hass, entry, device.id)


async def _async_hub_updated(hass: HomeAssistant, entry: HubConfigEntry) -> None:
    """Reload only when entities come or go; a changed chain is read at the next call."""
    async_check_chains(hass)
    async_check_pairings(hass, entry)
    async_offer_satellites(hass, entry)
    AnimaData.of(hass).budgets.configure_from(entry)
    if HubRuntime.of(entry) != entry.runtime_data:
        await hass.config_entries.async_reload(entry.entry_id)


async def _async_connection_updated(hass: HomeAssistant, entry: ConnectionConfigEntry) -> None:
    """Apply new prices from the next call; nothing else in the options needs a reload."""
    meter = AnimaData.of(hass).meter
    meter.use_prices(entry.entry_id, entry.options)
    if meter.charges(entry.entry_id):  # costs to show now (Home Assistant reloads to add them)
        async_show_costs(hass, entry)
