"""Provider connections as the hub uses them: loaded now, and what each can do.

Chains are resolved from a profile's links at every call, from whichever connection entries are
loaded at that moment. So reconfiguring a profile, re-authenticating a connection or a connection
coming back after an outage takes effect on the next call, without reloading anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.core import HomeAssistant

from ..const import DOMAIN, FIRST_ANSWER_SECONDS, KIND, KIND_HUB, LOGGER, PRESET
from ..core.profiles import Link
from ..core.routing import Chain, Route
from ..providers.base import Capability, ProviderError
from ..providers.connection import ProviderConnection, is_local
from ..providers.openai_compat import DEFAULT_TTS_VOICE, SPEECH_LANGUAGES
from ..providers.presets import PRESETS
from .hub import HubRuntime

type ConnectionConfigEntry = ConfigEntry[ProviderConnection]
#: Any of Anima's entries: the hub, or a connection to a provider.
type AnimaConfigEntry = ConfigEntry[HubRuntime | ProviderConnection]
#: How long a local model may take to its first token: on a small board it reads a cold
#: Assist prompt (some 2,000 tokens) for many seconds before it writes.
LOCAL_FIRST_TOKEN_S = 120.0


class NoProviderError(ProviderError):
    """No connection of a profile's chain is loaded and able to do the job."""

    translation_key = "no_provider"


def connection_entries(hass: HomeAssistant) -> list[ConnectionConfigEntry]:
    """Return the provider connection entries (every Anima entry but the hub)."""
    return [
        entry
        for entry in hass.config_entries.async_entries(DOMAIN)
        if entry.data.get(KIND) != KIND_HUB
    ]


def loaded_connection(hass: HomeAssistant, entry_id: str) -> ProviderConnection | None:
    """Return a connection if its entry is loaded (else it cannot be called now)."""
    entry: ConnectionConfigEntry | None = hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.state is not ConfigEntryState.LOADED:
        return None
    return entry.runtime_data


def can(hass: HomeAssistant, entry_id: str, capability: Capability) -> bool:
    """Whether a connection is loaded and offers `capability`."""
    connection = loaded_connection(hass, entry_id)
    return connection is not None and capability in connection.capabilities


def resolve_chain(
    hass: HomeAssistant,
    links: Sequence[Link],
    capability: Capability,
    *,
    first_token_timeout: float | None = 15.0,
    total_timeout: float | None = 60.0,
) -> Chain[Any]:
    """Turn a profile's links into a router chain of the connections able to serve them now.

    Raises NoProviderError when none is: the caller reports it like any provider failure.
    """
    routes = []
    for link in links:
        connection = loaded_connection(hass, link.connection)
        if connection is None or capability not in connection.capabilities:
            LOGGER.debug("Skipping %s: not loaded or cannot do %s", link.connection, capability)
            continue
        first_token = first_token_seconds(hass, link.connection)
        routes.append(
            Route(link.connection, connection.client, link.model, link.voice, first_token)
        )
    if not routes:
        raise NoProviderError(f"No loaded connection of the chain can do {capability}")
    return Chain(tuple(routes), first_token_timeout, total_timeout)


def first_token_seconds(hass: HomeAssistant, entry_id: str) -> float | None:
    """How long a connection's first token may take (None: the chain's limit).

    Its own option, else the local default: a local server may be loading a model.
    """
    entry = hass.config_entries.async_get_entry(entry_id)
    if entry is None:
        return None
    if chosen := entry.options.get(FIRST_ANSWER_SECONDS):
        return float(chosen)
    return LOCAL_FIRST_TOKEN_S if is_local(entry.data) else None


def connection_is_local(hass: HomeAssistant, entry_id: str) -> bool:
    """Whether a connection stays inside the house (see `providers.connection.is_local`)."""
    entry = hass.config_entries.async_get_entry(entry_id)
    return entry is not None and is_local(entry.data)


def connection_preset(hass: HomeAssistant, entry_id: str) -> str:
    """Return the preset id of an OpenAI-compatible connection ("" for none or Wyoming)."""
    entry = hass.config_entries.async_get_entry(entry_id)
    return str(entry.data.get(PRESET, "")) if entry else ""


def connection_languages(connection: ProviderConnection, capability: Capability) -> set[str]:
    """Return the languages a connection can transcribe (STT) or speak (TTS)."""
    services = connection.services
    if services is None:  # OpenAI-compatible: Whisper-family models
        return set(SPEECH_LANGUAGES)
    if capability is Capability.STT:
        return set(services.asr_languages)
    return {language for voice in services.tts_voices for language in voice.languages}


def chain_languages(
    hass: HomeAssistant, links: Sequence[Link], capability: Capability
) -> list[str]:
    """Return the languages any loaded connection of a chain handles.

    Each as the server spells it ("en_US"), as Home Assistant does ("en-US") and as its primary
    language ("en"), since Home Assistant matches the language a pipeline asks for exactly.
    """
    languages: set[str] = set()
    for link in links:
        if (connection := loaded_connection(hass, link.connection)) is not None:
            for language in connection_languages(connection, capability):
                tag = language.replace("_", "-")
                languages |= {language, tag, tag.split("-")[0]}
    return sorted(languages)


def same_language(first: str, second: str) -> bool:
    """Whether two language tags ("en", "en-US", "en_GB") share their primary language."""
    return (
        first.replace("_", "-").split("-")[0].lower()
        == second.replace("_", "-").split("-")[0].lower()
    )


def connection_voices(hass: HomeAssistant, entry_id: str, language: str | None = None) -> list[str]:
    """Return the voices a loaded connection offers (for `language`, if given)."""
    connection = loaded_connection(hass, entry_id)
    if connection is None or Capability.TTS not in connection.capabilities:
        return []
    if connection.services is not None:
        return [
            voice.name
            for voice in connection.services.tts_voices
            if language is None or any(same_language(language, lang) for lang in voice.languages)
        ]
    preset = PRESETS.get(connection_preset(hass, entry_id))
    return list(preset.tts_voices) if preset and preset.tts_voices else [DEFAULT_TTS_VOICE]
