"""Errors with translated messages, the one way Anima raises what a user reads."""

from __future__ import annotations

from homeassistant.exceptions import HomeAssistantError

from ..const import DOMAIN


def translated[E: HomeAssistantError](kind: type[E], key: str, **placeholders: str) -> E:
    """Return an error of `kind` whose message is Anima's translation `key`."""
    return kind(
        translation_domain=DOMAIN, translation_key=key, translation_placeholders=placeholders
    )
