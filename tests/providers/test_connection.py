"""Connection identity and capability guesses, without any service."""

from __future__ import annotations

import pytest
from yarl import URL

from custom_components.anima.const import BASE_URL, HOST, KIND, KIND_OPENAI, KIND_WYOMING, PORT
from custom_components.anima.providers.base import Capability
from custom_components.anima.providers.connection import (
    normalize_base_url,
    openai_capabilities,
    unique_id_of,
)
from custom_components.anima.providers.presets import CUSTOM, PRESETS


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("https://API.OpenAI.com/v1/", "https://api.openai.com/v1"),
        ("  http://127.0.0.1:11434/v1  ", "http://127.0.0.1:11434/v1"),
        ("https://host/Path/V1", "https://host/Path/V1"),  # paths are case-sensitive
    ],
)
def test_the_same_service_spelled_differently_is_one_connection(typed: str, expected: str) -> None:
    assert normalize_base_url(typed) == expected
    assert unique_id_of({KIND: KIND_OPENAI, BASE_URL: typed}) == expected


def test_wyoming_servers_are_told_apart_by_host_and_port() -> None:
    first = unique_id_of({KIND: KIND_WYOMING, HOST: "Speech.local ", PORT: 10200})
    assert first == unique_id_of({KIND: KIND_WYOMING, HOST: "speech.local", PORT: "10200"})
    assert first != unique_id_of({KIND: KIND_WYOMING, HOST: "speech.local", PORT: 10300})


def test_speech_capabilities_are_read_from_model_names() -> None:
    assert openai_capabilities(("gpt-4.1-mini",)) == {Capability.CHAT}
    assert openai_capabilities(("gpt-4.1-mini", "whisper-1", "tts-1")) == {
        Capability.CHAT,
        Capability.STT,
        Capability.TTS,
    }


def test_presets_have_usable_addresses() -> None:
    for preset in PRESETS.values():
        if preset.id == CUSTOM:
            assert preset.base_url == ""
            continue
        url = URL(preset.base_url)
        assert url.scheme in ("http", "https"), preset.id
        assert url.host, preset.id
        # Cloud services need a key; local servers run without one.
        assert preset.needs_api_key == (url.scheme == "https"), preset.id
