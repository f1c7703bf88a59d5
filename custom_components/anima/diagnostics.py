"""Diagnostics for Anima entries, with secrets redacted."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from .const import API_KEY, KIND, KIND_HUB
from .core.endpoints import SERVICE_KEY
from .core.profiles import all_links
from .runtime.connections import AnimaConfigEntry
from .runtime.data import AnimaData

TO_REDACT = {API_KEY, SERVICE_KEY}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: AnimaConfigEntry
) -> dict[str, Any]:
    """Return what helps debug a connection or the hub's profiles, never an API key."""
    anima = AnimaData.of(hass)
    health = anima.router.snapshot()
    if entry.data.get(KIND) == KIND_HUB:
        return {
            "title": entry.title,
            "state": entry.state.value,
            "timings": anima.timings.as_dict(),
            "profiles": {
                sub.subentry_id: {
                    "type": sub.subentry_type,
                    "title": sub.title,
                    "data": async_redact_data(sub.data, TO_REDACT),
                    "chain_health": {
                        link.connection: health.get(link.connection) for link in all_links(sub.data)
                    },
                }
                for sub in entry.subentries.values()
            },
        }
    connection = getattr(entry, "runtime_data", None)
    return {
        "title": entry.title,
        "state": entry.state.value,
        "data": async_redact_data(entry.data, TO_REDACT),
        "health": health.get(entry.entry_id),
        "connection": None
        if connection is None
        else {
            "kind": connection.kind,
            "capabilities": sorted(connection.capabilities),
            "models": list(connection.models),
            "services": None if connection.services is None else asdict(connection.services),
        },
    }
