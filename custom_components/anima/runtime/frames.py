"""Camera frames for vision: one frame, a few seconds of changed frames, frames taken ahead.

Every failure a user could meet (a camera that does not answer, a frame that is not an image, one
too large) is a `LookError` with a translated message the agent can say out loud.
"""

from __future__ import annotations

import asyncio
import time

from homeassistant.components import camera
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError

from ..const import DOMAIN, LOGGER
from ..core.endpoints import Endpoint
from ..core.vision import ChangeFilter, FrameError, PreparedFrame, limits_for, prepare_frame

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


async def async_frame(hass: HomeAssistant, camera_entity: str, model: str) -> PreparedFrame:
    """Take one frame from a camera, prepared for `model`; raises LookError."""
    try:
        image = await camera.async_get_image(hass, camera_entity, timeout=CAMERA_TIMEOUT)
    except HomeAssistantError as err:
        LOGGER.debug("Camera %s gave no image: %s", camera_entity, err)
        raise LookError("camera_unavailable", name=camera_entity) from err
    return await async_prepare(hass, image.content, model, camera_entity)


async def async_prepare(hass: HomeAssistant, image: bytes, model: str, name: str) -> PreparedFrame:
    """Prepare an image (a snapshot, a file) for `model`, off the event loop; raises LookError."""
    try:
        return await hass.async_add_executor_job(prepare_frame, image, limits_for(model))
    except FrameError as err:
        raise LookError(f"frame_{err.code}", name=name) from err


async def async_frames(
    hass: HomeAssistant, camera_entity: str, model: str, seconds: float, rate: float
) -> list[PreparedFrame]:
    """Take frames for `seconds` at `rate` per second; keep those that changed (at most 8).

    A camera slower than the pace gives fewer frames: the watch ends after `seconds` (and the
    frame begun by then), however many were planned.
    """
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
        now = time.monotonic()
        if index + 1 == count or now >= start + seconds:
            break
        await asyncio.sleep(max(0.0, start + (index + 1) / rate - now))
    return kept


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
        """Return the prefetched frame if fresh, else take one now.

        A prefetch that failed fast (the camera not ready yet) is tried once more; one that
        used its whole time-out is not: the camera does not answer, and the turn goes on
        without waiting a second time-out.
        """
        found = self._frames.pop(endpoint.device_id, None)
        if found is not None and time.monotonic() - found[0] < FRESH_SECONDS:
            try:
                return await found[1]
            except LookError:
                if time.monotonic() - found[0] >= CAMERA_TIMEOUT:
                    raise
        assert endpoint.camera is not None
        return await async_frame(hass, endpoint.camera, model)
