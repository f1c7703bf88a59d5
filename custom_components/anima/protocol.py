"""Anima's own Wyoming events, between the hub and an endpoint's service (camera, earcons).

The one source of truth for both sides: the satellite package links this file
(`satellite/anima_satellite/protocol.py`), and `docs/protocol.md` lists the same events and
fields (a test checks the three agree). Pure: `wyoming` and the standard library only.

An endpoint service listens on its own TCP port, next to the satellite's:

- `anima-describe` -> `anima-info` {name, version, camera, earcons, satellite_port}
- `anima-capture` {max_side} -> `anima-frame` {width, height, mime_type} + JPEG payload
- `anima-earcon` {name} -> `anima-earcon-played` {name}
- `anima-listen` {respond} -> `anima-heard` {text}: the satellite listens now, without its wake
  word, and says what Home Assistant heard (a follow-up, a handoff, the answer to a question)
- anything that fails -> Wyoming's `error` {text, code}
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.event import Event

PROTOCOL_VERSION: Final = 1
#: The zeroconf type endpoint services announce themselves under, and their TXT properties:
#: the port of the Wyoming satellite the service belongs to, and the protocol version.
ZEROCONF_TYPE: Final = "_anima._tcp.local."
ZEROCONF_SATELLITE_PORT: Final = "satellite_port"
ZEROCONF_VERSION: Final = "version"

DESCRIBE: Final = "anima-describe"
INFO: Final = "anima-info"
CAPTURE: Final = "anima-capture"
FRAME: Final = "anima-frame"
EARCON: Final = "anima-earcon"
EARCON_PLAYED: Final = "anima-earcon-played"
LISTEN: Final = "anima-listen"
HEARD: Final = "anima-heard"

#: Every event and its data fields: what docs/protocol.md documents.
EVENTS: Final[Mapping[str, tuple[str, ...]]] = {
    DESCRIBE: (),
    INFO: ("name", "version", "camera", "earcons", "satellite_port"),
    CAPTURE: ("max_side",),
    FRAME: ("width", "height", "mime_type"),
    EARCON: ("name",),
    EARCON_PLAYED: ("name",),
    LISTEN: ("respond",),
    HEARD: ("text",),
}


@dataclass(frozen=True)
class EndpointInfo:
    """What an endpoint service offers."""

    name: str
    camera: bool = False
    earcons: list[str] = field(default_factory=list)
    satellite_port: int | None = None
    version: int = PROTOCOL_VERSION

    def event(self) -> Event:
        """Return the `anima-info` event."""
        return Event(
            INFO,
            {
                "name": self.name,
                "version": self.version,
                "camera": self.camera,
                "earcons": list(self.earcons),
                "satellite_port": self.satellite_port,
            },
        )

    @classmethod
    def from_event(cls, event: Event) -> EndpointInfo:
        """Read an `anima-info` event."""
        data = event.data or {}
        return cls(
            name=str(data.get("name", "")),
            camera=bool(data.get("camera")),
            earcons=[str(name) for name in data.get("earcons") or []],
            satellite_port=data.get("satellite_port"),
            version=int(data.get("version", 0)),
        )


@dataclass(frozen=True)
class Frame:
    """One camera frame (JPEG)."""

    jpeg: bytes
    width: int
    height: int
    mime_type: str = "image/jpeg"

    def event(self) -> Event:
        """Return the `anima-frame` event, the image as its payload."""
        data = {"width": self.width, "height": self.height, "mime_type": self.mime_type}
        return Event(FRAME, data, payload=self.jpeg)

    @classmethod
    def from_event(cls, event: Event) -> Frame:
        """Read an `anima-frame` event."""
        data = event.data or {}
        return cls(event.payload or b"", int(data["width"]), int(data["height"]), data["mime_type"])


class EndpointError(Exception):
    """An endpoint service could not do what was asked; `code` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class EndpointClient:
    """The hub's side: one short connection per request, each bounded by `timeout`."""

    def __init__(self, host: str, port: int, *, timeout: float = 5.0) -> None:
        """Talk to the endpoint service at host:port."""
        self.host, self.port, self.timeout = host, port, timeout

    @classmethod
    def at(cls, address: str) -> EndpointClient:
        """Reach the service at `host:port` (as the hub stores it)."""
        host, _, port = address.rpartition(":")
        return cls(host, int(port))

    async def describe(self) -> EndpointInfo:
        """Ask what the endpoint offers."""
        return EndpointInfo.from_event(await self._ask(Event(DESCRIBE), INFO))

    async def capture(self, max_side: int | None = None) -> Frame:
        """Take a frame from the endpoint's camera."""
        event = await self._ask(Event(CAPTURE, {"max_side": max_side}), FRAME)
        return Frame.from_event(event)

    async def play_earcon(self, name: str) -> None:
        """Have the endpoint play one of its earcons (no audio goes over the network)."""
        await self._ask(Event(EARCON, {"name": name}), EARCON_PLAYED)

    async def listen(self, *, respond: bool, timeout: float) -> str:
        """Have the satellite listen now, without its wake word; return what was heard.

        `respond`: Home Assistant answers it as a turn (a follow-up, a handoff); else it is only
        transcribed (the answer to a question). Waits at most `timeout` seconds.
        """
        event = await self._ask(Event(LISTEN, {"respond": respond}), HEARD, timeout=timeout)
        return str((event.data or {}).get("text") or "")

    async def _ask(self, request: Event, answer: str, *, timeout: float | None = None) -> Event:
        limit = self.timeout if timeout is None else timeout
        try:
            async with asyncio.timeout(limit), AsyncTcpClient(self.host, self.port) as tcp:
                await tcp.write_event(request)
                while (event := await tcp.read_event()) is not None:
                    if event.type == answer:
                        answered: Event = event
                        return answered
                    if Error.is_type(event.type):
                        error = Error.from_event(event)
                        raise EndpointError(error.code or "error", error.text)
        except TimeoutError as err:
            raise EndpointError("timeout", f"{self.host}:{self.port} did not answer") from err
        except (OSError, ValueError) as err:
            raise EndpointError("unreachable", f"{self.host}:{self.port}: {err}") from err
        raise EndpointError("closed", f"{self.host}:{self.port} closed the connection")
