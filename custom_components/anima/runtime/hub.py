"""The hub entry: what it set up, and the endpoints bound in it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback

from ..const import DOMAIN, KIND, KIND_HUB
from ..core.endpoints import CAMERA, SATELLITE, SERVICE, VISION_MODE, Endpoint, EndpointRegistry
from ..core.profiles import AI_TASK, PROFILE_ENDPOINT
from ..providers.endpoint import EndpointClient

type HubConfigEntry = ConfigEntry[HubRuntime]
#: The assist_satellite state while a satellite streams what the user says, and while its
#: request is answered.
LISTENING = "listening"
PROCESSING = "processing"


@dataclass(frozen=True, slots=True)
class HubRuntime:
    """What the hub entry set up from its subentries: a reload is due when this changes.

    Per subentry: its id and title, whether an agent has an AI task entity, and what an
    endpoint's camera and frame prefetch use (satellite, camera, vision mode, service).
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


def hub_entry(hass: HomeAssistant) -> HubConfigEntry | None:
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


def service_client(endpoint: Endpoint) -> EndpointClient | None:
    """Return a client of an endpoint's service, paired with its key (None: it has none)."""
    if endpoint.service is None:
        return None
    return EndpointClient.at(endpoint.service, key=endpoint.service_key)


@callback
def async_endpoint_of(hass: HomeAssistant, device_id: str | None) -> Endpoint | None:
    """Return the endpoint a turn from `device_id` comes from, if that device is one."""
    return endpoint_registry(hub_entry(hass)).for_device(device_id)


@callback
def async_listening_endpoint(hass: HomeAssistant) -> str | None:
    """Return the device of the one endpoint whose satellite is listening now, if exactly one is.

    Home Assistant hands speech-to-text no device: while a satellite listens, the audio is its.
    """
    return _only_endpoint_in(hass, {LISTENING})


@callback
def async_busy_endpoint(hass: HomeAssistant) -> str | None:
    """Return the device of the one endpoint whose satellite listens or waits for its answer."""
    return _only_endpoint_in(hass, {LISTENING, PROCESSING})


def _only_endpoint_in(hass: HomeAssistant, states: set[str]) -> str | None:
    found = [
        endpoint.device_id
        for endpoint in endpoint_registry(hub_entry(hass))
        if endpoint.satellite
        and (state := hass.states.get(endpoint.satellite)) is not None
        and state.state in states
    ]
    return found[0] if len(found) == 1 else None
