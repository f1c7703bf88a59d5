"""The Wyoming client against the real Piper and faster-whisper servers and broken peers."""

from __future__ import annotations

from collections.abc import AsyncIterator
import re

import pytest

from custom_components.anima.providers.base import (
    AudioFormat,
    Capability,
    ProviderConnectionError,
    ProviderResponseError,
    ProviderTimeoutError,
)
from custom_components.anima.providers.wyoming import WyomingClient
from tests.fakes.wyoming_servers import (
    EmptyWyomingServer,
    GarbageServer,
    SilentServer,
    closed_port,
)
from tests.fixtures.speech_servers import SpeechServer


def _words(text: str) -> str:
    return re.sub(r"[^a-z ]", "", text.lower())


async def test_servers_describe_what_they_offer(
    piper_server: SpeechServer, whisper_server: SpeechServer
) -> None:
    piper = await WyomingClient(piper_server.host, piper_server.port).describe()
    assert piper.capabilities == {Capability.TTS}
    joe = next(voice for voice in piper.tts_voices if voice.name == "en_US-joe-medium")
    assert "en_US" in joe.languages
    whisper = await WyomingClient(whisper_server.host, whisper_server.port).describe()
    assert whisper.capabilities == {Capability.STT}
    assert "en" in whisper.asr_languages


async def test_speech_made_by_piper_is_understood_by_whisper(
    piper_server: SpeechServer, whisper_server: SpeechServer
) -> None:
    piper = WyomingClient(piper_server.host, piper_server.port, timeout=30)
    chunks = [chunk async for chunk in piper.synthesize("Turn on the kitchen light.")]
    assert len(chunks) > 1  # streamed, not one blob
    audio_format = chunks[0].format
    assert audio_format == AudioFormat(22050, 2, 1)
    pcm = b"".join(chunk.audio for chunk in chunks)
    assert 1.0 < audio_format.seconds(len(pcm)) < 5.0

    async def stream() -> AsyncIterator[bytes]:
        for start in range(0, len(pcm), 4096):
            yield pcm[start : start + 4096]

    whisper = WyomingClient(whisper_server.host, whisper_server.port, timeout=30)
    transcript = await whisper.transcribe(stream(), audio_format, language="en")
    assert "kitchen light" in _words(transcript.text)
    assert transcript.usage.audio_seconds == pytest.approx(audio_format.seconds(len(pcm)))


async def test_broken_peers_give_specific_errors(socket_enabled: None) -> None:
    with pytest.raises(ProviderConnectionError):
        await WyomingClient("127.0.0.1", closed_port()).describe()
    async with SilentServer() as silent:
        with pytest.raises(ProviderTimeoutError):
            await WyomingClient("127.0.0.1", silent.port, timeout=0.3).describe()
    async with GarbageServer() as garbage:
        with pytest.raises(ProviderResponseError, match="not a Wyoming server"):
            await WyomingClient("127.0.0.1", garbage.port).describe()
    async with EmptyWyomingServer() as empty:
        services = await WyomingClient("127.0.0.1", empty.port).describe()
    assert services.capabilities == frozenset()
