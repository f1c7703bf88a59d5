"""The hub's wiring of profiles to providers: one router for the integration, chains per call.

Chains are resolved from a profile's links at every call, from whichever connection entries are
loaded at that moment. So reconfiguring a profile, re-authenticating a connection or a connection
coming back after an outage takes effect on the next turn, without reloading anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.util.hass_dict import HassKey

from .const import DOMAIN, LOGGER
from .endpoints import CAMERA, SATELLITE, SERVICE, VISION_MODE, Endpoint, EndpointRegistry
from .metering import METER
from .profiles import AI_TASK, PROFILE_ENDPOINT, Link
from .providers.base import Capability, ProviderError
from .providers.connection import KIND, KIND_HUB, PRESET, ProviderConnection, is_local
from .providers.openai_compat import DEFAULT_TTS_VOICE, SPEECH_LANGUAGES
from .providers.presets import PRESETS
from .routing import Attempt, Chain, Route, Router
from .timing import TimingLog
from .turns import TurnNotes

ROUTER: HassKey[Router] = HassKey(f"{DOMAIN}_router")
#: Dispatcher signal sent after every provider attempt: health entities refresh on it.
SIGNAL_ATTEMPT = f"{DOMAIN}_attempt"


@dataclass(frozen=True, slots=True)
class HubRuntime:
    """What the hub entry set up from its subentries: a reload is due when this changes.

    Per subentry: its id and title, whether an agent has an AI task entity, and what an
    endpoint's frame prefetch watches (satellite, camera, vision mode).
    """

    profiles: frozenset[tuple[str, str, tuple[Any, ...]]]

    @classmethod
    def of(cls, entry: ConfigEntry) -> HubRuntime:
        """Describe what the entry's subentries need set up now."""
        watched = (AI_TASK, SATELLITE, CAMERA, VISION_MODE, SERVICE)
        return cls(
            frozenset(
                (sub.subentry_id, sub.title, tuple(sub.data.get(key) for key in watched))
                for sub in entry.subentries.values()
            )
        )


class NoProviderError(ProviderError):
    """No connection of a profile's chain is loaded and able to do the job."""

    translation_key = "no_provider"


@callback
def async_get_router(hass: HomeAssistant) -> Router:
    """Return the integration's router, made on first use.

    One router for every profile, so a provider's breaker and cooldown are shared by all the
    chains that use it.
    """
    if (router := hass.data.get(ROUTER)) is not None:
        return router

    @callback
    def start_reauth(entry_id: str) -> None:
        if (entry := hass.config_entries.async_get_entry(entry_id)) is not None:
            LOGGER.warning("%s rejected its API key; asking for a new one", entry.title)
            entry.async_start_reauth(hass)

    @callback
    def report(attempt: Attempt) -> None:
        if (meter := hass.data.get(METER)) is not None:
            meter.on_attempt(attempt)
        async_dispatcher_send(hass, SIGNAL_ATTEMPT, attempt)

    router = hass.data[ROUTER] = Router(on_auth_failure=start_reauth, on_attempt=report)
    return router


def connection_entries(hass: HomeAssistant) -> list[ConfigEntry]:
    """Return the provider connection entries (every Anima entry but the hub)."""
    return [
        entry
        for entry in hass.config_entries.async_entries(DOMAIN)
        if entry.data.get(KIND) != KIND_HUB
    ]


def loaded_connection(hass: HomeAssistant, entry_id: str) -> ProviderConnection | None:
    """Return a connection if its entry is loaded (else it cannot be called now)."""
    entry = hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.state is not ConfigEntryState.LOADED:
        return None
    connection: ProviderConnection = entry.runtime_data
    return connection


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
        routes.append(Route(link.connection, connection.client, link.model, link.voice))
    if not routes:
        raise NoProviderError(f"No loaded connection of the chain can do {capability}")
    return Chain(tuple(routes), first_token_timeout, total_timeout)


def connection_is_local(hass: HomeAssistant, entry_id: str) -> bool:
    """Whether a connection stays inside the house (see `providers.connection.is_local`)."""
    entry = hass.config_entries.async_get_entry(entry_id)
    return entry is not None and is_local(entry.data)


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
    entry = hass.config_entries.async_get_entry(entry_id)
    preset = PRESETS.get(entry.data.get(PRESET, "")) if entry else None
    return list(preset.tts_voices) if preset and preset.tts_voices else [DEFAULT_TTS_VOICE]


TURN_NOTES: HassKey[TurnNotes] = HassKey(f"{DOMAIN}_turn_notes")


@callback
def async_turn_notes(hass: HomeAssistant) -> TurnNotes:
    """Return the integration's notes of what the agents are saying."""
    if (notes := hass.data.get(TURN_NOTES)) is None:
        notes = hass.data[TURN_NOTES] = TurnNotes()
    return notes


def hub_entry(hass: HomeAssistant) -> ConfigEntry | None:
    """Return the hub's entry, if there is one."""
    return next(
        (e for e in hass.config_entries.async_entries(DOMAIN) if e.data.get(KIND) == KIND_HUB),
        None,
    )


def endpoint_registry(entry: ConfigEntry | None) -> EndpointRegistry:
    """Return the endpoints bound in the hub, as they are now."""
    if entry is None:
        return EndpointRegistry()
    return EndpointRegistry(
        Endpoint.from_data(sub.subentry_id, sub.title, sub.data)
        for sub in entry.subentries.values()
        if sub.subentry_type == PROFILE_ENDPOINT
    )


@callback
def async_endpoint_of(hass: HomeAssistant, device_id: str | None) -> Endpoint | None:
    """Return the endpoint a turn from `device_id` comes from, if that device is one."""
    return endpoint_registry(hub_entry(hass)).for_device(device_id)


TIMINGS: HassKey[TimingLog] = HassKey(f"{DOMAIN}_timings")


@callback
def async_timings(hass: HomeAssistant) -> TimingLog:
    """Return the integration's log of where turns' time went."""
    if (log := hass.data.get(TIMINGS)) is None:
        log = hass.data[TIMINGS] = TimingLog()
    return log
