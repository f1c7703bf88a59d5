"""Looking through cameras: which camera a turn may use, and a vision model's answer about it.

Used by the `anima__look` and `anima__watch` tools, the `anima.describe` and `anima.ask` actions,
and eager vision in agent turns. Every failure a user could meet (no camera, a camera that is not
allowed, no vision-capable model, no model answering) is a `LookError` the agent can say.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from homeassistant.components.homeassistant.exposed_entities import async_should_expose
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers.event import async_track_state_change_event

from ..core.endpoints import Endpoint, EndpointRegistry, VisionMode
from ..core.ledger import Kind
from ..core.profiles import PROFILE_AGENT, Link, chain_of
from ..core.routing import Route
from ..core.vision import PreparedFrame, limits_for
from ..providers.base import ChatMessage, ChatRequest, ImagePart, ProviderError
from ..providers.presets import accepts_images
from .calls import CallSpec
from .data import AnimaData
from .frames import LookError
from .hub import LISTENING, endpoint_registry, hub_entry

DEFAULT_INSTRUCTIONS = (
    "You look through a home camera for the user. Answer the question about the image(s) "
    "in one or two short spoken sentences; say so if you cannot tell."
)


@dataclass(frozen=True, slots=True)
class Target:
    """The camera to look through, and the endpoint it belongs to (if any)."""

    camera: str
    owner: Endpoint | None


def find_camera(
    hass: HomeAssistant,
    asking_device: str | None,
    *,
    camera_entity: str | None = None,
    area: str | None = None,
) -> Target:
    """Choose the camera a turn asks for, checking that the asker may use it.

    No camera or area named: the asking endpoint's own camera. A named camera or area: that
    camera, if it belongs to no endpoint and is exposed to Assist, or to an endpoint that is
    the asker or shares its camera.
    """
    registry = endpoint_registry(hub_entry(hass))
    asking = registry.for_device(asking_device)
    if camera_entity is None and area is None:
        if asking is None or asking.camera is None:
            raise LookError("no_camera")
        return Target(asking.camera, asking)
    candidates = _cameras_named(hass, registry, camera_entity, area)
    if not candidates:
        raise LookError("camera_not_found", name=camera_entity or area or "")
    for entity_id, owner in candidates:
        if owner is None and async_should_expose(hass, "conversation", entity_id):
            return Target(entity_id, None)
        if owner is not None and registry.camera_visible_to(asking, owner):
            return Target(entity_id, owner)
    raise LookError("camera_not_allowed", name=camera_entity or area or "")


def _cameras_named(
    hass: HomeAssistant, registry: EndpointRegistry, camera_entity: str | None, area: str | None
) -> list[tuple[str, Endpoint | None]]:
    owners = {endpoint.camera: endpoint for endpoint in registry if endpoint.camera}
    if camera_entity is not None:
        if hass.states.get(camera_entity) is None:
            return []
        return [(camera_entity, owners.get(camera_entity))]
    wanted = (area or "").casefold()
    return [
        (endpoint.camera, endpoint)
        for endpoint in registry
        if endpoint.camera
        and wanted in (endpoint.name.casefold(), (endpoint.area or "").casefold())
    ]


def can_look(hass: HomeAssistant, asking_device: str | None) -> bool:
    """Whether a turn from `asking_device` could look at all: a vision model and a camera.

    A camera: an endpoint's (another's may refuse: the model then hears why) or one exposed to
    Assist. The look tools are offered only then (they cost prompt tokens, and a small model
    picks them by mistake).
    """
    try:
        vision_links(hass, asking_device)
    except LookError:
        return False
    if any(endpoint.camera for endpoint in endpoint_registry(hub_entry(hass))):
        return True
    return any(
        async_should_expose(hass, "conversation", state.entity_id)
        for state in hass.states.async_all("camera")
    )


def vision_links(hass: HomeAssistant, asking_device: str | None) -> tuple[Link, ...]:
    """Return the vision-capable links of the asking endpoint's agent, else of any agent.

    Other integrations' agents and HA's MCP server use the tools too: they get the first agent
    profile with a model that reads images.
    """
    entry = hub_entry(hass)
    if entry is None:
        raise LookError("no_vision_model")
    agents = [sub for sub in entry.subentries.values() if sub.subentry_type == PROFILE_AGENT]
    endpoint = endpoint_registry(entry).for_device(asking_device)
    preferred = endpoint.agent if endpoint else None
    agents.sort(key=lambda sub: sub.subentry_id != preferred)  # stable: the rest keep order
    for subentry in agents:
        links = tuple(link for link in chain_of(subentry.data) if accepts_images(link.model or ""))
        if links:
            return links
    raise LookError("no_vision_model")


async def async_ask_about(
    hass: HomeAssistant,
    links: Sequence[Link],
    question: str,
    frames: Sequence[PreparedFrame],
    *,
    endpoint: str | None = None,
    instructions: str = DEFAULT_INSTRUCTIONS,
) -> str:
    """Send the question with the frames to the first model that answers; return its text.

    A vision call of `endpoint` (within its budget); without frames, a plain chat call.
    """
    images = tuple(ImagePart(frame.jpeg, "image/jpeg") for frame in frames)
    kind = Kind.VISION if images else Kind.CHAT
    call = AnimaData.of(hass).calls.begin(CallSpec(kind, tuple(links), endpoint=endpoint))

    def ask(route: Route[Any]) -> Any:
        detail = limits_for(route.model or "").detail
        request = ChatRequest(
            model=route.model or "",
            messages=(
                ChatMessage("system", instructions),
                ChatMessage(
                    "user",
                    question,
                    images=tuple(ImagePart(i.data, i.mime_type, detail) for i in images),
                ),
            ),
        )
        return route.provider.stream_chat(request)

    try:
        text = [delta.text async for delta in call.stream(ask)]
    except ProviderError as err:
        raise LookError("vision_failed") from err
    return "".join(text).strip()


@callback
def async_prefetch_on_listening(hass: HomeAssistant, hub: ConfigEntry) -> None:
    """Take a frame when an eager endpoint's satellite starts listening (until hub unloads).

    The frame is then ready when the transcript arrives, instead of costing a camera round
    trip after it.
    """
    cache = AnimaData.of(hass).frames
    eager = {
        endpoint.satellite: endpoint
        for endpoint in endpoint_registry(hub)
        if endpoint.satellite
        and endpoint.camera
        and endpoint.vision_mode in (VisionMode.EAGER, VisionMode.ALWAYS)
    }
    if not eager:
        return

    @callback
    def listening(event: Event[EventStateChangedData]) -> None:
        new = event.data["new_state"]
        if new is None or new.state != LISTENING:
            return
        endpoint = eager[event.data["entity_id"]]
        try:
            model = vision_links(hass, endpoint.device_id)[0].model or ""
        except LookError:
            return
        cache.prefetch(hass, endpoint, model)

    hub.async_on_unload(async_track_state_change_event(hass, list(eager), listening))
