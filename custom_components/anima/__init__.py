"""Anima: multimodal AI endpoints for Home Assistant.

Each config entry is one provider connection (an OpenAI-compatible service or a Wyoming server).
Set-up reaches the service and keeps the checked connection in `entry.runtime_data`.
"""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryNotReady
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from .const import DOMAIN, VALIDATION_TIMEOUT
from .providers.base import ProviderAuthError, ProviderError
from .providers.connection import ProviderConnection, open_connection

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
    return True


async def async_unload_entry(hass: HomeAssistant, entry: AnimaConfigEntry) -> bool:
    """Nothing to tear down yet: connections hold no open sockets between calls."""
    return True
