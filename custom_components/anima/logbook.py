"""Logbook entries: one per turn on the endpoint's Anima device, and budgets changing level."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from homeassistant.components.logbook.const import LOGBOOK_ENTRY_MESSAGE, LOGBOOK_ENTRY_NAME
from homeassistant.core import Event, HomeAssistant, callback

from .const import DOMAIN, EVENT_BUDGET, EVENT_TURN
from .core.turns import describe


@callback
def async_describe_events(
    hass: HomeAssistant,
    async_describe_event: Callable[
        [str, str, Callable[[Event[Mapping[str, Any]]], dict[str, str]]], None
    ],
) -> None:
    """Describe Anima's events for the logbook (from the event's data alone: it is stored)."""

    @callback
    def turn(event: Event[Mapping[str, Any]]) -> dict[str, str]:
        data = event.data
        return {
            LOGBOOK_ENTRY_NAME: str(data.get("endpoint") or data.get("agent") or "Anima"),
            LOGBOOK_ENTRY_MESSAGE: describe(data),
        }

    @callback
    def budget(event: Event[Mapping[str, Any]]) -> dict[str, str]:
        data = event.data
        spent, limit = data.get("spent"), data.get("limit")
        if spent is None or limit is None:  # its limit was removed: nothing to measure by
            measure = "no limit"
        else:
            measure = f"{data.get('period')}: {spent:.4f} of {limit:.4f} {data.get('currency')}"
        return {
            LOGBOOK_ENTRY_NAME: str(data.get("endpoint") or "House"),
            LOGBOOK_ENTRY_MESSAGE: f"budget {data.get('level')} ({measure})",
        }

    async_describe_event(DOMAIN, EVENT_TURN, turn)
    async_describe_event(DOMAIN, EVENT_BUDGET, budget)
