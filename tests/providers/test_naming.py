"""What connections are called, from their data and what their servers say (no service)."""

from __future__ import annotations

from typing import Any

import pytest

from custom_components.anima.const import (
    BASE_URL,
    HOST,
    KIND,
    KIND_OPENAI,
    KIND_WYOMING,
    PORT,
    PRESET,
)
from custom_components.anima.providers.base import Capability
from custom_components.anima.providers.connection import ProviderConnection
from custom_components.anima.providers.naming import (
    MAX_PROGRAM_NAME,
    connection_title,
    device_model,
    entity_name,
    moved_title,
)
from custom_components.anima.providers.wyoming import WyomingClient, WyomingServices, WyomingVoice

JOE = (WyomingVoice("en_US-joe-medium", ("en_US",)),)


def _wyoming(
    host: str = "192.168.1.5", port: int = 10200, **services: Any
) -> tuple[dict[str, Any], ProviderConnection]:
    found = WyomingServices(**services)
    connection = ProviderConnection(
        KIND_WYOMING, WyomingClient(host, port), found.capabilities, services=found
    )
    return {KIND: KIND_WYOMING, HOST: host, PORT: port}, connection


def _openai(preset: str, base_url: str) -> tuple[dict[str, Any], ProviderConnection]:
    data = {KIND: KIND_OPENAI, PRESET: preset, BASE_URL: base_url}
    return data, ProviderConnection(KIND_OPENAI, None, frozenset({Capability.CHAT}))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("preset", "base_url", "title"),
    [
        ("openai", "https://api.openai.com/v1", "OpenAI"),
        ("openai", "http://proxy.lan:4000/v1", "OpenAI"),  # a cloud wherever its URL points
        ("ollama", "http://nas.local:11434/v1", "Ollama on nas.local"),  # its usual port
        ("ollama", "http://10.0.0.2:11500/v1", "Ollama on 10.0.0.2:11500"),
        ("custom", "https://api.example.com/v1", "OpenAI-compatible API on api.example.com"),
        ("custom", "http://[fd00::7]:8080/v1", "OpenAI-compatible API on [fd00::7]:8080"),
    ],
)
def test_an_openai_compatible_connection_is_titled_by_its_service(
    preset: str, base_url: str, title: str
) -> None:
    assert connection_title(*_openai(preset, base_url)) == title


def test_a_wyoming_server_is_titled_and_modelled_by_its_programs() -> None:
    data, piper = _wyoming(tts_voices=JOE, tts_programs=("piper",))
    assert connection_title(data, piper) == "Piper on 192.168.1.5:10200"
    assert device_model(piper) == "Wyoming text-to-speech (Piper)"
    data, both = _wyoming(asr_programs=("faster-whisper",), tts_voices=JOE, tts_programs=("piper",))
    assert connection_title(data, both) == "faster-whisper + Piper on 192.168.1.5:10200"
    assert device_model(both) == "Wyoming speech-to-text and text-to-speech (faster-whisper, Piper)"


def test_what_a_server_calls_itself_is_cleaned_and_cut_short() -> None:
    data, hostile = _wyoming(tts_voices=JOE, tts_programs=("evil\x1b[2J\n" + "x" * 500,))
    title = connection_title(data, hostile)
    assert title.isprintable()
    assert len(title) <= MAX_PROGRAM_NAME + len(" on 192.168.1.5:10200")
    data, nameless = _wyoming(tts_voices=JOE, tts_programs=("\x00\x07",))
    assert connection_title(data, nameless) == "Wyoming server on 192.168.1.5:10200"


def test_entity_ids_start_with_the_name_and_titles_follow_a_move() -> None:
    data, piper = _wyoming(tts_voices=JOE, tts_programs=("piper",))
    assert entity_name(connection_title(data, piper), data) == "Piper"
    assert entity_name("My kitchen voice", data) == "My kitchen voice"
    moved = {**data, HOST: "192.168.1.6"}
    assert moved_title("Piper on 192.168.1.5:10200", data, moved) == "Piper on 192.168.1.6:10200"
    assert moved_title("192.168.1.5:10200", data, moved) == "192.168.1.6:10200"  # older titles
    assert moved_title("My kitchen voice", data, moved) == "My kitchen voice"
