"""Looking through cameras: which camera a turn may use, frames from it, and a vision answer.

Used by the `anima__look` and `anima__watch` tools, the `anima.describe` and `anima.ask`
actions, and eager vision in conversation turns. Every failure a user could meet (no camera, a
camera that is not allowed, one that does not answer, a frame that is not an image, no
vision-capable model) is a `LookError` with a translated message the agent can say out loud.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
import time
from typing import Any

from homeassistant.components import camera
from homeassistant.components.homeassistant.exposed_entities import async_should_expose
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.event import async_track_state_change_event
from homeassistant.util.hass_dict import HassKey

from .const import DOMAIN, LOGGER
from .endpoints import Endpoint, EndpointRegistry, VisionMode
from .hub import async_get_router, endpoint_registry, hub_entry, resolve_chain
from .ledger import Kind
from .metering import metered
from .profiles import PROFILE_AGENT, Link, chain_of
from .providers.base import Capability, ChatMessage, ChatRequest, ImagePart, ProviderError
from .providers.presets import accepts_images
from .routing import Route
from .vision import ChangeFilter, FrameError, PreparedFrame, limits_for, prepare_frame

CAMERA_TIMEOUT = 5  # seconds a camera may take for one frame
#: How long a frame taken when a satellite started listening stays fresh for its turn.
FRESH_SECONDS = 15.0
MAX_WATCH_FRAMES = 8


class LookError(HomeAssistantError):
    """Looking failed in a way the user should hear about."""

    def __init__(self, key: str, **placeholders: str) -> None:
        super().__init__(
            translation_domain=DOMAIN,
            translation_key=key,
            translation_placeholders=placeholders,
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


async def async_frame(hass: HomeAssistant, camera_entity: str, model: str) -> PreparedFrame:
    """Take one frame from a camera, prepared for `model`; raises LookError."""
    try:
        image = await camera.async_get_image(hass, camera_entity, timeout=CAMERA_TIMEOUT)
    except HomeAssistantError as err:
        LOGGER.debug("Camera %s gave no image: %s", camera_entity, err)
        raise LookError("camera_unavailable", name=camera_entity) from err
    try:
        return await hass.async_add_executor_job(prepare_frame, image.content, limits_for(model))
    except FrameError as err:
        raise LookError(f"frame_{err.code}", name=camera_entity) from err


async def async_frames(
    hass: HomeAssistant, camera_entity: str, model: str, seconds: float, rate: float
) -> list[PreparedFrame]:
    """Take frames for `seconds` at `rate` per second; keep those that changed (at most 8)."""
    changes = ChangeFilter()
    kept: list[PreparedFrame] = []
    count = max(1, round(seconds * rate))
    start = time.monotonic()
    for index in range(count):
        frame = await async_frame(hass, camera_entity, model)
        if changes.keep(frame):
            kept.append(frame)
            if len(kept) == MAX_WATCH_FRAMES:
                break
        if index + 1 < count:
            await asyncio.sleep(max(0.0, start + (index + 1) / rate - time.monotonic()))
    return kept


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
    instructions: str = "",
) -> str:
    """Send the question with the frames to the first vision model that answers; its text."""
    chain = resolve_chain(hass, links, Capability.CHAT)
    images = tuple(ImagePart(frame.jpeg, "image/jpeg") for frame in frames)
    system = instructions or (
        "You look through a home camera for the user. Answer the question about the image(s) "
        "in one or two short spoken sentences; say so if you cannot tell."
    )

    def ask(route: Route[Any]) -> Any:
        detail = limits_for(route.model or "").detail
        request = ChatRequest(
            model=route.model or "",
            messages=(
                ChatMessage("system", system),
                ChatMessage(
                    "user",
                    question,
                    images=tuple(ImagePart(i.data, i.mime_type, detail) for i in images),
                ),
            ),
        )
        return route.provider.stream_chat(request)

    text: list[str] = []
    try:
        with metered(Kind.VISION, endpoint=endpoint):
            async for delta in async_get_router(hass).stream(chain, ask):
                text.append(delta.text)
    except ProviderError as err:
        raise LookError("vision_failed") from err
    return "".join(text).strip()


class FrameCache:
    """Frames taken when an endpoint's satellite starts listening, ready for its turn."""

    def __init__(self) -> None:
        """Start empty."""
        self._frames: dict[str, tuple[float, asyncio.Task[PreparedFrame]]] = {}

    @callback
    def prefetch(self, hass: HomeAssistant, endpoint: Endpoint, model: str) -> None:
        """Start taking a frame of the endpoint's camera (in parallel with speech-to-text)."""
        if endpoint.camera is None:
            return
        task = hass.async_create_background_task(
            async_frame(hass, endpoint.camera, model), f"{DOMAIN} prefetch {endpoint.camera}"
        )
        self._frames[endpoint.device_id] = (time.monotonic(), task)

    async def take(self, hass: HomeAssistant, endpoint: Endpoint, model: str) -> PreparedFrame:
        """Return the prefetched frame if fresh, else take one now."""
        found = self._frames.pop(endpoint.device_id, None)
        if found is not None and time.monotonic() - found[0] < FRESH_SECONDS:
            try:
                return await found[1]
            except LookError:
                pass  # try once more, now
        assert endpoint.camera is not None
        return await async_frame(hass, endpoint.camera, model)


FRAMES: HassKey[FrameCache] = HassKey(f"{DOMAIN}_frames")


@callback
def async_prefetch_on_listening(hass: HomeAssistant, hub: ConfigEntry) -> None:
    """Take a frame when an eager endpoint's satellite starts listening (until hub unloads).

    The frame is then ready when the transcript arrives, instead of costing a camera round
    trip after it.
    """
    cache = hass.data.setdefault(FRAMES, FrameCache())
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
        if new is None or new.state != "listening":
            return
        endpoint = eager[event.data["entity_id"]]
        try:
            model = vision_links(hass, endpoint.device_id)[0].model or ""
        except LookError:
            return
        cache.prefetch(hass, endpoint, model)

    hub.async_on_unload(async_track_state_change_event(hass, list(eager), listening))
