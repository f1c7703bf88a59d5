"""Errors with translated messages, the one way Anima raises what a user reads."""

from __future__ import annotations

from typing import Any

from homeassistant.exceptions import HomeAssistantError

from ..const import DOMAIN


def translation(key: str, **placeholders: str) -> dict[str, Any]:
    """Return the arguments that give a Home Assistant error Anima's translation `key`."""
    return {
        "translation_domain": DOMAIN,
        "translation_key": key,
        "translation_placeholders": placeholders,
    }


def translated[E: HomeAssistantError](kind: type[E], key: str, **placeholders: str) -> E:
    """Return an error of `kind` whose message is Anima's translation `key`."""
    return kind(**translation(key, **placeholders))
