"""Profiles as stored data: links, chains and what each connection offers for a chain."""

from __future__ import annotations

import pytest

from custom_components.anima.const import KIND_OPENAI, KIND_WYOMING
from custom_components.anima.core.profiles import (
    CHAIN,
    Link,
    chain_of,
    link_choices,
    profiles_using,
)
from custom_components.anima.providers.base import Capability
from custom_components.anima.providers.connection import ProviderConnection, openai_capabilities
from custom_components.anima.providers.wyoming import WyomingServices, WyomingVoice

MODELS = ("gpt-4.1-mini", "text-embedding-3-small", "tts-1", "whisper-1", "omni-moderation-latest")


def _openai() -> ProviderConnection:
    return ProviderConnection(KIND_OPENAI, None, openai_capabilities(MODELS), MODELS)  # type: ignore[arg-type]


def _wyoming(services: WyomingServices) -> ProviderConnection:
    return ProviderConnection(KIND_WYOMING, None, services.capabilities, services=services)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "link",
    [
        Link("e1", "gpt-4.1-mini"),
        Link("e2", voice="en_US-joe"),
        Link("e3", "tts-1", "nova"),
        Link("e4", "vendor|model"),  # a model id may hold the separator
    ],
)
def test_a_link_survives_storage_and_the_selector(link: Link) -> None:
    assert Link.from_data(link.as_data()) == link
    assert Link.from_option(link.option()) == link


@pytest.mark.parametrize("value", ["", "only-an-id", "|model|", "id|model"])
def test_a_selector_value_that_is_no_link_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="Not a chain link"):
        Link.from_option(value)


def test_chain_keeps_its_order_and_profiles_using_a_connection_are_named() -> None:
    first, second = Link("a", "m1"), Link("b", "m2")
    data = {CHAIN: [first.as_data(), second.as_data()]}
    assert chain_of(data) == (first, second)
    assert chain_of({}) == ()
    profiles = {
        "p1": ("Kitchen", data),
        "p2": ("Office", {CHAIN: [first.as_data()]}),
        "p3": ("Hall", {}),
    }
    assert profiles_using(profiles, "a") == ["Kitchen", "Office"]
    assert profiles_using(profiles, "b") == ["Kitchen"]
    assert profiles_using(profiles, "c") == []


def test_openai_service_offers_each_model_for_its_job() -> None:
    connection = _openai()
    chat = link_choices(Capability.CHAT, "Cloud", "e1", connection)
    assert chat == [(Link("e1", "gpt-4.1-mini"), "Cloud · gpt-4.1-mini")]
    stt = link_choices(Capability.STT, "Cloud", "e1", connection)
    assert [link for link, _ in stt] == [Link("e1", "whisper-1")]
    tts = link_choices(Capability.TTS, "Cloud", "e1", connection, ("nova", "onyx"))
    assert [label for _, label in tts] == ["Cloud · tts-1 · nova", "Cloud · tts-1 · onyx"]


def test_wyoming_server_offers_voices_or_models_and_nothing_it_lacks() -> None:
    piper = _wyoming(WyomingServices(tts_voices=(WyomingVoice("en_US-joe", ("en_US",), "Joe"),)))
    assert link_choices(Capability.TTS, "Piper", "p", piper) == [
        (Link("p", voice="en_US-joe"), "Piper · Joe")
    ]
    assert link_choices(Capability.STT, "Piper", "p", piper) == []
    assert link_choices(Capability.CHAT, "Piper", "p", piper) == []
    # A speech-to-text program without named models is still choosable, by program name.
    whisper = _wyoming(WyomingServices(asr_programs=("faster-whisper",)))
    assert link_choices(Capability.STT, "W", "w", whisper) == [
        (Link("w", "faster-whisper"), "W · faster-whisper")
    ]
