"""Anima: multimodal AI endpoints for Home Assistant.

Each config entry is one provider connection (an OpenAI-compatible service or a Wyoming server).
Set-up reaches the service and keeps the checked connection in `entry.runtime_data`.
"""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryNotReady
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from .const import DOMAIN, VALIDATION_TIMEOUT
from .providers.base import ProviderAuthError, ProviderError
from .providers.connection import KIND, KIND_WYOMING, PRESET, ProviderConnection, open_connection
from .providers.presets import PRESETS

type AnimaConfigEntry = ConfigEntry[ProviderConnection]


async def async_setup_entry(hass: HomeAssistant, entry: AnimaConfigEntry) -> bool:
    """Reach the provider; a rejected API key starts re-authentication."""
    try:
        entry.runtime_data = await open_connection(
            async_get_clientsession(hass), entry.data, timeout=VALIDATION_TIMEOUT
        )
    except ProviderAuthError as err:
        raise ConfigEntryAuthFailed(
            translation_domain=DOMAIN,
            translation_key=err.translation_key,
            translation_placeholders={"name": entry.title},
        ) from err
    except ProviderError as err:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key=err.translation_key,
            translation_placeholders={"name": entry.title},
        ) from err
    # One service device per connection: where its health and usage entities will live.
    dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id,
        identifiers={(DOMAIN, entry.entry_id)},
        name=entry.title,
        manufacturer="Wyoming"
        if entry.data[KIND] == KIND_WYOMING
        else PRESETS[entry.data[PRESET]].name,
        model=", ".join(sorted(entry.runtime_data.capabilities)),
        entry_type=dr.DeviceEntryType.SERVICE,
    )
    return True


async def async_unload_entry(hass: HomeAssistant, entry: AnimaConfigEntry) -> bool:
    """Nothing to tear down yet: connections hold no open sockets between calls."""
    return True
