"""Diagnostics for Anima connections, with secrets redacted."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from . import AnimaConfigEntry
from .providers.connection import API_KEY

TO_REDACT = {API_KEY}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: AnimaConfigEntry
) -> dict[str, Any]:
    """Return what helps debug a connection, never its API key."""
    connection = getattr(entry, "runtime_data", None)
    return {
        "title": entry.title,
        "state": entry.state.value,
        "data": async_redact_data(entry.data, TO_REDACT),
        "connection": None
        if connection is None
        else {
            "kind": connection.kind,
            "capabilities": sorted(connection.capabilities),
            "models": list(connection.models),
            "services": None if connection.services is None else asdict(connection.services),
        },
    }
