"""What a connection is called: its entry's title, its entity ids' start, its device's model.

A title says what the service is and where: "Piper on 192.168.1.5:10200", "Ollama on nas.local",
"OpenAI-compatible API on 10.0.0.7:5000"; a cloud preset is its name alone ("OpenAI"), wherever
its base URL points. A Wyoming server names itself (its programs in `info`): those names are the
peer's and are cleaned and cut short before they name anything.
"""

from __future__ import annotations

from collections.abc import Mapping
import re
from typing import Any, Final

from yarl import URL

from ..const import BASE_URL, HOST, KIND, KIND_WYOMING, PORT, PRESET
from .base import Capability
from .connection import ProviderConnection
from .presets import CUSTOM, LOCAL_PRESETS, PRESETS

#: What a custom base URL is called (nothing else is known of it).
OPENAI_COMPATIBLE: Final = "OpenAI-compatible API"
#: What a Wyoming server that names no program is called.
WYOMING_SERVER: Final = "Wyoming server"
#: The longest program name a title takes from a server.
MAX_PROGRAM_NAME: Final = 40
#: How well-known Wyoming programs spell themselves (their `info` gives lower-case ids).
PROGRAM_NAMES: Final[Mapping[str, str]] = {
    "piper": "Piper",
    "espeak-ng": "eSpeak NG",
    "openwakeword": "openWakeWord",
    "microwakeword": "microWakeWord",
}
#: What each Wyoming service is, in the order a device's model lists them.
WYOMING_SERVICES: Final[Mapping[Capability, str]] = {
    Capability.STT: "speech-to-text",
    Capability.TTS: "text-to-speech",
    Capability.WAKE: "wake word",
}
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


def _clean(name: str) -> str:
    """Return a peer's name as one short line of text."""
    name = " ".join(_UNPRINTABLE.sub(" ", name).split())
    return PROGRAM_NAMES.get(name.casefold(), name)[:MAX_PROGRAM_NAME].strip()


def _programs(connection: ProviderConnection) -> list[str]:
    """Return the names of a Wyoming server's programs by service (speech-to-text first)."""
    services = connection.services
    if services is None:
        return []
    by_service = {
        Capability.STT: services.asr_programs,
        Capability.TTS: services.tts_programs,
        Capability.WAKE: services.wake_programs,
    }
    names = [
        _clean(name)
        for capability in WYOMING_SERVICES
        if capability in connection.capabilities
        for name in by_service[capability]
    ]
    return list(dict.fromkeys(name for name in names if name))


def where(data: Mapping[str, Any]) -> str:
    """Return where a connection's service is: host, and port unless it is the preset's usual."""
    if data[KIND] == KIND_WYOMING:
        host = str(data[HOST]).strip()
        return f"[{host}]:{data[PORT]}" if ":" in host else f"{host}:{data[PORT]}"
    url = URL(str(data.get(BASE_URL, "")))
    host = url.host or ""
    usual = PRESETS.get(str(data.get(PRESET, CUSTOM)), PRESETS[CUSTOM]).base_url
    if url.explicit_port is None or (usual and URL(usual).port == url.port):
        return host
    return f"[{host}]:{url.port}" if ":" in host else f"{host}:{url.port}"


def _what(data: Mapping[str, Any], connection: ProviderConnection) -> str:
    if data[KIND] == KIND_WYOMING:
        return " + ".join(_programs(connection)[:2]) or WYOMING_SERVER
    preset = str(data.get(PRESET, CUSTOM))
    return OPENAI_COMPATIBLE if preset == CUSTOM else PRESETS[preset].name


def connection_title(data: Mapping[str, Any], connection: ProviderConnection) -> str:
    """Return a new connection's title: what it is, and where unless it is a cloud."""
    what = _what(data, connection)
    preset = str(data.get(PRESET, CUSTOM))
    if data[KIND] != KIND_WYOMING and preset != CUSTOM and preset not in LOCAL_PRESETS:
        return what  # a cloud preset is that cloud wherever its URL points (a proxy still bills)
    return f"{what} on {where(data)}"


def moved_title(title: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """Return the title after a move from `old` to `new`: its address follows, a user's stays."""
    before = where(old)
    if title == before:  # an address, as titles were before they said what they are
        return where(new)
    if title.endswith(f" on {before}"):
        return f"{title.removesuffix(before)}{where(new)}"
    return title


def entity_name(title: str, data: Mapping[str, Any]) -> str:
    """Return what a connection's entity ids begin with: its title without the address.

    "Piper" for "Piper on 192.168.1.5:10200", so its health is `sensor.piper_health`.
    """
    return title.removesuffix(f" on {where(data)}") or title


def device_model(connection: ProviderConnection) -> str:
    """Return what a connection's device says it is ("Wyoming text-to-speech (Piper)")."""
    if connection.services is None:
        return OPENAI_COMPATIBLE
    offered = connection.capabilities
    services = " and ".join(name for cap, name in WYOMING_SERVICES.items() if cap in offered)
    programs = ", ".join(_programs(connection))
    return f"Wyoming {services} ({programs})" if programs else f"Wyoming {services}"


def manufacturer(data: Mapping[str, Any]) -> str | None:
    """Return who makes a connection's service, when a preset says so."""
    preset = str(data.get(PRESET, CUSTOM))
    return None if data[KIND] == KIND_WYOMING or preset == CUSTOM else PRESETS[preset].name
