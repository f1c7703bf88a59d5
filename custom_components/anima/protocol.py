"""Anima's own Wyoming events, between the hub and an endpoint's service (camera, earcons).

The one source of truth for both sides: the satellite package links this file
(`satellite/anima_satellite/protocol.py`), and `docs/protocol.md` lists the same events and
fields (a test checks the three agree). Pure: `wyoming` and the standard library only.

An endpoint service listens on its own TCP port, next to the satellite's. Every connection
starts with a challenge: the hub proves it holds the endpoint's key (an HMAC over both sides'
nonces; the key never travels), the service proves it back, then requests follow:

- service -> `anima-challenge` {nonce, version}; hub -> `anima-auth` {nonce, proof};
  service -> `anima-authed` {proof}
- `anima-describe` -> `anima-info` {name, version, camera, earcons, satellite_port}
- `anima-capture` {max_side} -> `anima-frame` {width, height, mime_type} + JPEG payload
- `anima-earcon` {name} -> `anima-earcon-played` {name}
- `anima-listen` {respond} -> `anima-heard` {text}: the satellite listens now, without its wake
  word, and says what Home Assistant heard (a follow-up, a handoff, the answer to a question)
- anything that fails -> Wyoming's `error` {text, code}; a client that has not proved the key
  gets `error` {code: unauthorized} and the connection closes.

`read_event` reads one Wyoming event without trusting what the peer announces: the header line,
the data and the payload are bounded (`WireLimits`, by event type), so a peer that claims a
2 GB payload is refused before a byte of it is read. Both sides read with it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
import hashlib
import hmac
import json
import re
import secrets
from typing import Any, Final

from wyoming.event import Event

PROTOCOL_VERSION: Final = 2
#: The zeroconf type endpoint services announce themselves under, and their TXT properties:
#: the port of the Wyoming satellite the service belongs to, and the protocol version.
ZEROCONF_TYPE: Final = "_anima._tcp.local."
ZEROCONF_SATELLITE_PORT: Final = "satellite_port"
ZEROCONF_VERSION: Final = "version"

CHALLENGE: Final = "anima-challenge"
AUTH: Final = "anima-auth"
AUTHED: Final = "anima-authed"
DESCRIBE: Final = "anima-describe"
INFO: Final = "anima-info"
CAPTURE: Final = "anima-capture"
FRAME: Final = "anima-frame"
EARCON: Final = "anima-earcon"
EARCON_PLAYED: Final = "anima-earcon-played"
LISTEN: Final = "anima-listen"
HEARD: Final = "anima-heard"
#: Wyoming's own event of microphone and speaker audio, the other event with a big payload.
AUDIO_CHUNK: Final = "audio-chunk"

#: Every event and its data fields: what docs/protocol.md documents.
EVENTS: Final[Mapping[str, tuple[str, ...]]] = {
    CHALLENGE: ("nonce", "version"),
    AUTH: ("nonce", "proof"),
    AUTHED: ("proof",),
    DESCRIBE: (),
    INFO: ("name", "version", "camera", "earcons", "satellite_port"),
    CAPTURE: ("max_side",),
    FRAME: ("width", "height", "mime_type"),
    EARCON: ("name",),
    EARCON_PLAYED: ("name",),
    LISTEN: ("respond",),
    HEARD: ("text",),
}

#: `error` codes of the protocol itself (requests add their own: no_camera, unknown_earcon, ...).
UNAUTHORIZED: Final = "unauthorized"
UNKNOWN_EVENT: Final = "unknown_event"
BAD_EVENT: Final = "bad_event"
#: The hub's codes for an endpoint that did not prove the key, or whose key is not a key.
UNVERIFIED: Final = "unverified"
INVALID_KEY: Final = "invalid_key"

#: The largest camera frame either side handles.
MAX_FRAME_BYTES: Final = 8 * 1024 * 1024

#: espeak-ng's embedded commands (Ctrl-A, a number, a letter: they change volume and speed),
#: then every other control character but whitespace (C0, DEL, C1): no voice should read them.
_VOICE_COMMAND = re.compile(r"\x01[+-]?\d*[A-Za-z]?|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def without_voice_commands(text: str) -> str:
    """Return `text` with embedded voice commands and control characters replaced by spaces."""
    return _VOICE_COMMAND.sub(" ", text)


# --- the pairing key and its proofs ---------------------------------------------------------

KEY_BYTES: Final = 32
NONCE_BYTES: Final = 16


def new_key() -> str:
    """Return a fresh endpoint key: 32 random bytes in base64 (like ESPHome's API key)."""
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def parse_key(text: str) -> bytes:
    """Return the key's bytes; ValueError (never quoting the text) when it is not a key."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the endpoint key is not base64") from None
    if len(key) != KEY_BYTES:
        raise ValueError(f"an endpoint key is {KEY_BYTES} bytes in base64 (44 characters)")
    return key


def new_nonce() -> str:
    """Return a nonce for one connection (hex)."""
    return secrets.token_hex(NONCE_BYTES)


def is_nonce(value: object) -> bool:
    """Whether `value` is a nonce as `new_nonce` makes them."""
    if not isinstance(value, str) or len(value) != 2 * NONCE_BYTES:
        return False
    try:
        bytes.fromhex(value)
    except ValueError:
        return False
    return True


def _proof(key: bytes, role: str, first: str, second: str) -> str:
    # The role keeps a proof from being reflected as the other side's.
    return hmac.new(key, f"{role}\n{first}\n{second}".encode(), hashlib.sha256).hexdigest()


def hub_proof(key: bytes, service_nonce: str, hub_nonce: str) -> str:
    """Return the proof the hub sends in `anima-auth`: it holds the key, on this connection."""
    return _proof(key, AUTH, service_nonce, hub_nonce)


def service_proof(key: bytes, service_nonce: str, hub_nonce: str) -> str:
    """Return the proof the service sends in `anima-authed`: it holds the key too."""
    return _proof(key, AUTHED, hub_nonce, service_nonce)


def proofs_match(expected: str, given: object) -> bool:
    """Compare proofs in constant time."""
    return isinstance(given, str) and hmac.compare_digest(expected, given)


# --- bounded reading of Wyoming events -------------------------------------------------------


@dataclass(frozen=True)
class WireLimits:
    """The most one event may hold, whatever its header announces."""

    #: Bytes of the JSON header line (its newline included).
    header: int = 16 * 1024
    #: Bytes of the JSON data that follows the header.
    data: int = 64 * 1024
    #: Bytes of payload, by event type; `other_payload` for every other type.
    payload: Mapping[str, int] = field(default_factory=dict)
    other_payload: int = 0

    def payload_for(self, event_type: str) -> int:
        """Return the largest payload an event of this type may carry."""
        return self.payload.get(event_type, self.other_payload)


#: What the endpoint service reads (small requests) and what the hub reads (frames).
SERVICE_LIMITS: Final = WireLimits(header=4 * 1024, data=4 * 1024)
HUB_LIMITS: Final = WireLimits(payload={FRAME: MAX_FRAME_BYTES})


class WireError(Exception):
    """A peer sent something that is not a Wyoming event within the limits; `code` says what."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _length(header: Mapping[str, Any], name: str) -> int:
    value = header.get(name)
    if value is None:
        return 0
    if type(value) is not int or value < 0:
        raise WireError("malformed", f"{name} is not a length")
    length: int = value
    return length


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise WireError("malformed", f"the {what} is not JSON") from None
    if not isinstance(value, dict):
        raise WireError("malformed", f"the {what} is not a JSON object")
    return value


async def read_event(reader: asyncio.StreamReader, limits: WireLimits) -> Event | None:
    """Read one event; None when the peer closed (also mid-event), WireError when it lied.

    Give the reader a `limit` no larger than `limits.header` (`asyncio.start_server(limit=...)`,
    `asyncio.open_connection(limit=...)`), so an endless header line is never buffered whole.
    """
    try:
        line = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError:
        return None
    except asyncio.LimitOverrunError:
        raise WireError("header_too_long", "the header line is too long") from None
    if len(line) > limits.header:
        raise WireError("header_too_long", f"the header line has {len(line)} bytes")
    header = _json_object(line, "header")
    event_type = header.get("type")
    if not isinstance(event_type, str) or not event_type:
        raise WireError("malformed", "the header has no type")
    data = header.get("data")
    if data is None:
        data = {}
    elif not isinstance(data, dict):
        raise WireError("malformed", "the header's data is not an object")
    data_length = _length(header, "data_length")
    payload_length = _length(header, "payload_length")
    if data_length > limits.data:
        raise WireError("data_too_long", f"{event_type} announces {data_length} bytes of data")
    if payload_length > limits.payload_for(event_type):
        raise WireError(
            "payload_too_long", f"{event_type} announces a payload of {payload_length} bytes"
        )
    try:
        if data_length:
            data.update(_json_object(await reader.readexactly(data_length), "data"))
        payload = await reader.readexactly(payload_length) if payload_length else None
    except asyncio.IncompleteReadError:
        return None
    return Event(type=event_type, data=data, payload=payload)


# --- events ----------------------------------------------------------------------------------


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
