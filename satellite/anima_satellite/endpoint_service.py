"""The endpoint service: the satellite's camera, earcons and listening, for the hub.

    anima-satellite ... --service-uri tcp://0.0.0.0:10701 --camera-image porch.jpg
    anima-satellite ... --service-uri tcp://0.0.0.0:10701 --camera-device /dev/video0

Frames come from a V4L2 camera through ffmpeg (one JPEG per request) or from an image file (tests,
demos). Earcons (numpy tones, `earcons.py`) are played locally through the satellite's playback:
the hub names the sound, no audio goes over the network. The hub can have the satellite listen
without its wake word (`anima-listen`, listening.py). Events: `protocol.py` and
docs/protocol.md. A request that fails gets Wyoming's `error` event; the service carries on.

Only the hub owns the service: each connection starts with `anima-challenge`, and a client that
does not answer it with the proof of the pairing key (`pairing.py`) gets `error`
{code: unauthorized} and is closed, before any frame or sound. Any address may try (the key is
the check); events are read within bounds (`serving.py`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
import io
import logging
from pathlib import Path

from wyoming.error import Error
from wyoming.event import Event

from .earcons import SAMPLE_RATE, Earcon, earcon_pcm
from .listening import NotHeardError
from .protocol import (
    AUTH,
    AUTHED,
    CAPTURE,
    CHALLENGE,
    DESCRIBE,
    EARCON,
    EARCON_PLAYED,
    HEARD,
    LISTEN,
    MAX_FRAME_BYTES,
    PROTOCOL_VERSION,
    SERVICE_LIMITS,
    UNAUTHORIZED,
    UNKNOWN_EVENT,
    EndpointInfo,
    Frame,
    hub_proof,
    is_nonce,
    new_nonce,
    proofs_match,
    service_proof,
)
from .serving import Guard, GuardedHandler, GuardedServer

_LOGGER = logging.getLogger(__name__)
CAPTURE_TIMEOUT = 5.0
#: The hub opens one short connection per request: this long to authenticate and ask.
IDLE_TIMEOUT_S = 10.0


@dataclass
class ServiceSettings:
    """What the endpoint service offers, and the key that pairs it with its hub."""

    name: str
    key: bytes
    camera_image: Path | None = None
    camera_device: str | None = None
    satellite_port: int | None = None
    #: Plays 16-bit mono PCM at the given rate (the satellite's playback).
    play: Callable[[bytes, int], Awaitable[None]] | None = None
    #: Listens without the wake word and returns the transcript (`respond`: HA answers it).
    listen: Callable[[bool], Awaitable[str]] | None = None
    #: A connection with no event this long is closed (also one that never authenticates).
    idle_timeout: float = IDLE_TIMEOUT_S

    @property
    def camera(self) -> bool:
        """Whether there is a camera to take frames from."""
        return self.camera_image is not None or self.camera_device is not None


class EndpointServiceHandler(GuardedHandler):
    """One request connection from the hub."""

    def __init__(
        self,
        settings: ServiceSettings,
        guard: Guard,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        """Serve the hub with `settings`."""
        super().__init__(reader, writer, guard)
        self.settings = settings
        self._nonce = new_nonce()

    async def connected(self) -> None:
        """Challenge the client: it must prove the pairing key before anything else."""
        await self.write_event(
            Event(CHALLENGE, {"nonce": self._nonce, "version": PROTOCOL_VERSION})
        )

    async def handle_event(self, event: Event) -> bool:
        """Answer one request; errors become `error` events."""
        if not self.trusted:
            return await self._authenticate(event)
        try:
            if event.type == DESCRIBE:
                await self.write_event(self.info().event())
            elif event.type == CAPTURE:
                await self.write_event((await self.capture()).event())
            elif event.type == EARCON:
                name = str((event.data or {}).get("name", ""))
                await self.play_earcon(name)
                await self.write_event(Event(EARCON_PLAYED, {"name": name}))
            elif event.type == LISTEN:
                respond = bool((event.data or {}).get("respond"))
                await self.write_event(Event(HEARD, {"text": await self.listen(respond)}))
            else:
                unknown = f"Unknown event {event.type[:64]!r}"
                await self.write_event(Error(text=unknown, code=UNKNOWN_EVENT).event())
        except ServiceError as err:
            await self.write_event(Error(text=str(err), code=err.code).event())
        return True

    async def _authenticate(self, event: Event) -> bool:
        """Check the client's proof of the key; an unpaired client is refused and closed."""
        nonce, proof = event.data.get("nonce"), event.data.get("proof")
        if (
            event.type == AUTH
            and isinstance(nonce, str)
            and is_nonce(nonce)
            and proofs_match(hub_proof(self.settings.key, self._nonce, nonce), proof)
        ):
            self.trusted = True
            answer = service_proof(self.settings.key, self._nonce, nonce)
            await self.write_event(Event(AUTHED, {"proof": answer}))
            return True
        self.complain(UNAUTHORIZED, "closed: did not prove the pairing key")
        await self.refuse(UNAUTHORIZED, "This endpoint is paired with its hub: prove the key")
        return False

    def info(self) -> EndpointInfo:
        """Describe the service."""
        return EndpointInfo(
            name=self.settings.name,
            camera=self.settings.camera,
            earcons=[earcon.value for earcon in Earcon],
            satellite_port=self.settings.satellite_port,
        )

    async def capture(self) -> Frame:
        """Take one JPEG frame from the camera."""
        if self.settings.camera_image is not None:
            data = await asyncio.to_thread(_read_at_most, self.settings.camera_image)
        elif self.settings.camera_device is not None:
            data = await self._ffmpeg_frame(self.settings.camera_device)
        else:
            raise ServiceError("no_camera", "This endpoint has no camera")
        return _jpeg_frame(data)

    async def _ffmpeg_frame(self, device: str) -> bytes:
        command = ["ffmpeg", "-loglevel", "error", "-f", "v4l2", "-i", device]
        command += ["-frames:v", "1", "-f", "image2pipe", "-vcodec", "mjpeg", "-"]
        process = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        try:
            async with asyncio.timeout(CAPTURE_TIMEOUT):
                out, err = await process.communicate()
        except TimeoutError as timeout:
            process.kill()
            raise ServiceError("camera_timeout", f"{device} gave no frame in time") from timeout
        if process.returncode != 0 or not out:
            raise ServiceError("camera_failed", err.decode(errors="replace")[-200:] or device)
        return out

    async def listen(self, respond: bool) -> str:
        """Listen without the wake word through the satellite; return what was heard."""
        if self.settings.listen is None:
            raise ServiceError("cannot_listen", "This endpoint has no satellite to listen with")
        try:
            return await self.settings.listen(respond)
        except NotHeardError as err:
            raise ServiceError(err.code, str(err)) from err

    async def play_earcon(self, name: str) -> None:
        """Play a named earcon on the satellite's speaker."""
        try:
            pcm = earcon_pcm(name)
        except ValueError as err:
            raise ServiceError("unknown_earcon", str(err)) from err
        if self.settings.play is not None:
            await self.settings.play(pcm, SAMPLE_RATE)


class ServiceError(Exception):
    """A request the service could not do; `code` goes into the `error` event."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _read_at_most(path: Path) -> bytes:
    with path.open("rb") as image:
        return image.read(MAX_FRAME_BYTES + 1)


def _jpeg_frame(data: bytes) -> Frame:
    """Check that `data` is a JPEG image and read its size (without decoding it)."""
    if len(data) > MAX_FRAME_BYTES:
        raise ServiceError("frame_too_large", f"A frame larger than {MAX_FRAME_BYTES} bytes")
    if not data.startswith(b"\xff\xd8"):
        raise ServiceError("not_an_image", "The camera gave something that is not a JPEG image")
    stream = io.BytesIO(data)
    stream.seek(2)
    while marker := stream.read(4):
        if len(marker) < 4 or marker[0] != 0xFF:
            break
        kind, length = marker[1], int.from_bytes(marker[2:4], "big")
        if 0xC0 <= kind <= 0xCF and kind not in (0xC4, 0xC8, 0xCC):  # a start of frame
            header = stream.read(5)
            height, width = int.from_bytes(header[1:3], "big"), int.from_bytes(header[3:5], "big")
            return Frame(data, width, height)
        stream.seek(length - 2, io.SEEK_CUR)
    raise ServiceError("not_an_image", "The JPEG image has no size")


async def serve(uri: str, settings: ServiceSettings) -> None:
    """Serve the hub until cancelled."""
    guard = Guard(
        "Endpoint service", SERVICE_LIMITS, allow=None, idle_timeout=settings.idle_timeout
    )
    _LOGGER.info("Endpoint service of %s on %s", settings.name, uri)
    await GuardedServer(guard, partial(EndpointServiceHandler, settings, guard)).serve(uri)
