"""A provider connection: the client for one configured service and what it offers.

Opening a connection is also how the config flow validates user input and how set-up checks the
service is there, so both give the same answer for the same data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
import ipaddress
import re
from typing import Any

import aiohttp
from yarl import URL

from ..const import API_KEY, BASE_URL, HOST, KIND, KIND_OPENAI, KIND_WYOMING, PORT, PRESET
from .base import Capability, ProviderResponseError
from .openai_compat import OpenAICompatClient
from .presets import CUSTOM, LOCAL_PRESETS, PRESETS
from .wyoming import WyomingClient, WyomingServices

# Model ids that tell what an OpenAI-compatible service can do besides chat.
_STT_MODEL = re.compile(r"whisper|transcribe|asr|paraformer|sensevoice", re.IGNORECASE)
_TTS_MODEL = re.compile(r"tts|speech|cosyvoice|kokoro|piper", re.IGNORECASE)
_NOT_CHAT_MODEL = re.compile(r"embed|rerank|moderation|dall-e|image", re.IGNORECASE)


class NoWyomingServicesError(ProviderResponseError):
    """A Wyoming server answered but offers no speech-to-text, text-to-speech or wake word."""

    translation_key = "no_wyoming_services"


@dataclass(frozen=True, slots=True)
class ProviderConnection:
    """A checked connection to one provider service."""

    kind: str
    client: OpenAICompatClient | WyomingClient
    capabilities: frozenset[Capability]
    #: Model ids an OpenAI-compatible service lists.
    models: tuple[str, ...] = ()
    #: What a Wyoming server described.
    services: WyomingServices | None = None


def normalize_base_url(url: str) -> str:
    """Return the base URL in the one spelling used for comparison and requests."""
    url = url.strip().rstrip("/")
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    host, slash, path = rest.partition("/")
    return f"{scheme.lower()}://{host.lower()}{slash}{path}"


def unique_id_of(data: Mapping[str, Any]) -> str:
    """Return what makes two connections the same service."""
    if data[KIND] == KIND_WYOMING:
        return f"wyoming://{str(data[HOST]).strip().lower()}:{int(data[PORT])}"
    return normalize_base_url(str(data[BASE_URL]))


def is_local(data: Mapping[str, Any]) -> bool:
    """Whether a connection stays inside the house (what "local only" budgets allow).

    Wyoming servers and the local presets (Ollama, vLLM/LocalAI) are local; a cloud preset is a
    cloud wherever its URL points (a proxy still bills). A custom base URL is local on a
    loopback, private or link-local address or a `.local`/single-label host name.
    """
    if data[KIND] == KIND_WYOMING or data.get(PRESET) in LOCAL_PRESETS:
        return True
    if data.get(PRESET, CUSTOM) != CUSTOM:
        return False
    host = URL(str(data.get(BASE_URL, ""))).host or ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host == "localhost" or host.endswith(".local") or "." not in host
    return address.is_private or address.is_loopback or address.is_link_local


def models_for(models: tuple[str, ...], capability: Capability) -> list[str]:
    """Return the model ids of an OpenAI-compatible service that do `capability`."""
    if capability is Capability.STT:
        return [model for model in models if _STT_MODEL.search(model)]
    if capability is Capability.TTS:
        return [model for model in models if _TTS_MODEL.search(model)]
    return [
        model
        for model in models
        if not (
            _STT_MODEL.search(model) or _TTS_MODEL.search(model) or _NOT_CHAT_MODEL.search(model)
        )
    ]


def openai_capabilities(models: tuple[str, ...]) -> frozenset[Capability]:
    """Guess what an OpenAI-compatible service offers from its model ids."""
    capabilities = {Capability.CHAT}
    if any(_STT_MODEL.search(model) for model in models):
        capabilities.add(Capability.STT)
    if any(_TTS_MODEL.search(model) for model in models):
        capabilities.add(Capability.TTS)
    return frozenset(capabilities)


async def open_connection(
    session: aiohttp.ClientSession, data: Mapping[str, Any], *, timeout: float
) -> ProviderConnection:
    """Reach the service `data` describes and read what it offers; raises ProviderError.

    `timeout` bounds these checks; the client it returns keeps it only for connecting and for
    checks: its chat streams, transcriptions and speech take as long as they keep coming.
    """
    if data[KIND] == KIND_WYOMING:
        wyoming = WyomingClient(str(data[HOST]), int(data[PORT]), timeout=timeout)
        services = await wyoming.describe()
        if not services.capabilities:
            raise NoWyomingServicesError("The Wyoming server offers no speech or wake services")
        return ProviderConnection(
            kind=KIND_WYOMING,
            client=wyoming,
            capabilities=services.capabilities,
            services=services,
        )
    client = OpenAICompatClient(
        session, normalize_base_url(str(data[BASE_URL])), data.get(API_KEY) or None, timeout=timeout
    )
    models = tuple(await client.list_models())
    preset = PRESETS.get(str(data.get(PRESET, CUSTOM)))
    if preset is not None and preset.key_check_path:  # its /models answers any key
        await client.check_key(preset.key_check_path)
    return ProviderConnection(
        kind=KIND_OPENAI, client=client, capabilities=openai_capabilities(models), models=models
    )
