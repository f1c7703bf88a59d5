"""The Wyoming client against the real Piper and faster-whisper servers and broken peers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
import json
import re
import socket
import struct
from typing import Any

import pytest
from wyoming.audio import AudioStop
from wyoming.event import Event
from wyoming.server import AsyncEventHandler

from anima_satellite.satellite import SatelliteSettings, serve
from anima_satellite.wake import LocalWakeWord
from custom_components.anima.providers.base import (
    AudioChunk,
    AudioFormat,
    Capability,
    ProviderConnectionError,
    ProviderError,
    ProviderResponseError,
    ProviderTimeoutError,
    Synthesizer,
    Transcriber,
)
from custom_components.anima.providers.wyoming import WyomingClient, WyomingVoice
from scripts.hassctl import free_port
from tests.fakes.wyoming_servers import (
    HTTP_400,
    EmptyWyomingServer,
    GarbageServer,
    ScriptedWyomingServer,
    SilentServer,
    closed_port,
)
from tests.fixtures.speech_servers import SpeechServer

PIPER_FORMAT = AudioFormat(22050, 2, 1)


def _words(text: str) -> str:
    return " ".join(re.sub(r"[^a-z ]", " ", text.lower()).split())


async def _stream(pcm: bytes, size: int = 4096) -> AsyncIterator[bytes]:
    for start in range(0, len(pcm), size):
        yield pcm[start : start + size]


def _line(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode() + b"\n"


def test_client_implements_the_interfaces() -> None:
    client = WyomingClient("127.0.0.1", 10300)
    interfaces: tuple[Transcriber, Synthesizer] = (client, client)  # checked by mypy
    assert all(isinstance(interface, WyomingClient) for interface in interfaces)


# --- the real servers ------------------------------------------------------------------------


async def test_piper_offers_the_joe_voice(piper_server: SpeechServer) -> None:
    services = await WyomingClient(piper_server.host, piper_server.port).describe()
    assert services.capabilities == {Capability.TTS}
    joe = next(voice for voice in services.tts_voices if voice.name == "en_US-joe-medium")
    assert "en_US" in joe.languages
    assert services.asr_models == services.wake_words == ()


async def test_whisper_offers_english_speech_to_text(whisper_server: SpeechServer) -> None:
    services = await WyomingClient(whisper_server.host, whisper_server.port).describe()
    assert services.capabilities == {Capability.STT}
    assert "en" in services.asr_languages
    assert services.asr_models
    assert services.tts_voices == ()


async def test_speech_made_by_piper_is_understood_by_whisper(
    piper_server: SpeechServer, whisper_server: SpeechServer
) -> None:
    piper = WyomingClient(piper_server.host, piper_server.port, timeout=30)
    chunks = [chunk async for chunk in piper.synthesize("Turn on the kitchen light.")]
    assert len(chunks) > 1  # streamed, not one blob
    assert {chunk.format for chunk in chunks} == {PIPER_FORMAT}
    pcm = b"".join(chunk.audio for chunk in chunks)
    assert 1.0 < PIPER_FORMAT.seconds(len(pcm)) < 5.0

    whisper = WyomingClient(whisper_server.host, whisper_server.port, timeout=30)
    transcript = await whisper.transcribe(_stream(pcm), PIPER_FORMAT, language="en")
    assert "kitchen light" in _words(transcript.text)
    assert transcript.usage.audio_seconds == pytest.approx(PIPER_FORMAT.seconds(len(pcm)))


async def test_piper_takes_the_voice_by_name(piper_server: SpeechServer) -> None:
    piper = WyomingClient(piper_server.host, piper_server.port, timeout=30)
    chunks = [c async for c in piper.synthesize("Hello.", voice="en_US-joe-medium")]
    assert sum(len(c.audio) for c in chunks) > 0


# --- the protocol, against a scripted Wyoming server -------------------------------------------


async def test_describe_skips_unrelated_events(socket_enabled: None) -> None:
    async with ScriptedWyomingServer(chatter=3) as server:
        services = await WyomingClient(server.host, server.port).describe()
    assert services.capabilities == {Capability.TTS}
    assert services.tts_voices == (WyomingVoice("scripted-voice", ("en_GB",), "A voice for tests"),)


async def test_transcribe_sends_the_wyoming_sequence(socket_enabled: None) -> None:
    audio_format = AudioFormat(16000, 2, 1)

    async def audio() -> AsyncIterator[bytes]:
        for chunk in (b"\x00" * 3200, b"", b"\x01" * 1600):
            yield chunk

    async with ScriptedWyomingServer() as server:
        client = WyomingClient(server.host, server.port)
        transcript = await client.transcribe(audio(), audio_format, model="tiny", language="en")
    assert transcript.text == "heard 4800 bytes"
    assert transcript.usage.audio_seconds == pytest.approx(0.15)
    types = [event.type for event in server.received]
    assert types == ["transcribe", "audio-start", "audio-chunk", "audio-chunk", "audio-stop"]
    assert server.received[0].data == {"name": "tiny", "language": "en"}
    assert server.received[1].data["rate"] == 16000


async def test_synthesize_yields_audio_before_synthesis_ends(socket_enabled: None) -> None:
    async with ScriptedWyomingServer() as server:
        client = WyomingClient(server.host, server.port, timeout=2)
        stream = client.synthesize("Hi.", voice="scripted-voice", model="ignored")
        first = await anext(stream)  # the server holds the rest back until released
        assert first == AudioChunk(b"\x01\x00" * 160, AudioFormat(16000, 2, 1))
        server.release.set()
        rest = [chunk async for chunk in stream]
    assert [chunk.audio for chunk in rest] == [b"\x02\x00" * 160]
    assert server.received[0].data == {"text": "Hi.", "voice": {"name": "scripted-voice"}}


async def test_abandoned_stream_closes_the_connection(socket_enabled: None) -> None:
    closed = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readline()
        writer.write(
            _line(
                {
                    "type": "audio-chunk",
                    "data": {"rate": 16000, "width": 2, "channels": 1},
                    "payload_length": 2,
                }
            )
        )
        writer.write(b"\x00\x00")
        await writer.drain()
        await reader.read()  # until the client hangs up
        closed.set()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        stream = WyomingClient("127.0.0.1", port).synthesize("Hi.")
        assert (await anext(stream)).audio == b"\x00\x00"
        await stream.aclose()
        async with asyncio.timeout(2):
            await closed.wait()


# --- broken peers ----------------------------------------------------------------------------


async def test_closed_port_is_a_connection_error(socket_enabled: None) -> None:
    with pytest.raises(ProviderConnectionError):
        await WyomingClient("127.0.0.1", closed_port()).describe()


@pytest.mark.parametrize(("host", "port"), [("", 10300), ("127.0.0.1", 70000)])
async def test_bad_address_is_a_connection_error(
    socket_enabled: None, host: str, port: int
) -> None:
    with pytest.raises(ProviderConnectionError):
        await WyomingClient(host, port).describe()


async def _synthesize(client: WyomingClient) -> None:
    async for _chunk in client.synthesize("Hi."):
        pass


async def _transcribe(client: WyomingClient) -> None:
    await client.transcribe(_stream(b"\x00" * 3200), AudioFormat())


async def _describe(client: WyomingClient) -> None:
    await client.describe()


@pytest.mark.parametrize("call", [_describe, _transcribe, _synthesize])
async def test_silent_server_times_out(
    socket_enabled: None, call: Callable[[WyomingClient], Awaitable[None]]
) -> None:
    # The client's own 0.5 s ends the call; without it the silent server would keep it (the
    # outer bound then fails the test, with no timing asserted).
    async with SilentServer() as silent, asyncio.timeout(60):
        with pytest.raises(ProviderTimeoutError):
            await call(WyomingClient(silent.host, silent.port, timeout=0.5))


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(HTTP_400, id="http"),
        pytest.param(bytes(range(256)) * 8 + b"\n", id="random-bytes"),
        pytest.param(b"\xff\xfe\n", id="not-utf8"),
        pytest.param(b"", id="closed-before-info"),
        pytest.param(b"[1, 2, 3]\n", id="json-not-an-object"),
        pytest.param(_line({"data": {}}), id="no-type"),
        pytest.param(_line({"type": "info", "data": "x"}), id="data-not-an-object"),
        pytest.param(_line({"type": "info", "data_length": "x"}), id="bad-length"),
        pytest.param(_line({"type": "info", "data_length": 99}) + b"{", id="truncated"),
        pytest.param(_line({"type": "info", "data": {"tts": [{"name": 1}]}}), id="bad-info"),
        pytest.param(b"x" * 100_000, id="endless-line"),
    ],
)
async def test_garbage_is_not_a_wyoming_server(socket_enabled: None, payload: bytes) -> None:
    async with GarbageServer(payload) as garbage:
        with pytest.raises(ProviderResponseError, match="not a Wyoming server"):
            await WyomingClient(garbage.host, garbage.port, timeout=2).describe()


async def test_garbage_audio_is_not_a_wyoming_server(socket_enabled: None) -> None:
    chunk = {"type": "audio-chunk", "data": {"rate": "fast", "width": 2, "channels": 1}}
    async with GarbageServer(_line(chunk)) as garbage:
        with pytest.raises(ProviderResponseError, match="not a Wyoming server"):
            await _synthesize(WyomingClient(garbage.host, garbage.port, timeout=2))


async def test_error_event_is_a_provider_error(socket_enabled: None) -> None:
    error = _line({"type": "error", "data": {"text": "voice not found"}})
    async with GarbageServer(error) as server:
        with pytest.raises(ProviderError, match="voice not found") as caught:
            await _synthesize(WyomingClient(server.host, server.port))
    assert not isinstance(caught.value, ProviderResponseError)


async def test_server_without_services_has_no_capabilities(socket_enabled: None) -> None:
    async with EmptyWyomingServer() as empty:
        services = await WyomingClient(empty.host, empty.port).describe()
    assert services.capabilities == frozenset()
    assert services.satellite is None


async def test_a_satellite_offers_its_wake_word_and_itself(socket_enabled: None) -> None:
    """Anima's own satellite, waking on the board: its describe names the wake word and it."""
    settings = SatelliteSettings(name="Hall", wake_word=LocalWakeWord.load("okay_nabu"))
    port = free_port()
    task = asyncio.create_task(serve(f"tcp://127.0.0.1:{port}", settings))
    try:
        client = WyomingClient("127.0.0.1", port, timeout=2)
        for _attempt in range(100):  # until it listens
            with suppress(ProviderConnectionError):
                services = await client.describe()
                break
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
    assert services.capabilities == {Capability.WAKE}
    assert services.wake_words == ("okay_nabu",)
    assert services.wake_programs == ("pymicro-wakeword",)
    assert services.satellite == "Hall"


class _NumberTranscriber(ScriptedWyomingServer):
    """Answers a transcription with a transcript whose text is a number."""

    async def answer(self, event: Event, handler: AsyncEventHandler) -> None:
        if AudioStop.is_type(event.type):
            await handler.write_event(Event("transcript", {"text": 5}))


async def test_a_transcript_that_is_not_text_is_not_a_wyoming_server(socket_enabled: None) -> None:
    async with _NumberTranscriber() as server:
        with pytest.raises(ProviderResponseError, match="malformed transcript event"):
            await _transcribe(WyomingClient(server.host, server.port, timeout=2))


async def test_a_server_too_busy_to_accept_times_out(socket_enabled: None) -> None:
    """Its accept queue is full: the kernel drops the connection attempt, nothing refuses it."""
    with socket.socket() as busy, socket.socket() as queued:
        busy.bind(("127.0.0.1", 0))
        busy.listen(0)
        host, port = busy.getsockname()
        queued.connect((host, port))  # the one connection the queue holds, never accepted
        with pytest.raises(ProviderTimeoutError, match="did not accept a connection"):
            await WyomingClient(host, port, timeout=0.5).describe()


type _Handle = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def _client_of(handle: _Handle, *, timeout: float) -> AsyncIterator[WyomingClient]:
    """A client of a loopback server that handles each connection with `handle`."""
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with server:
        yield WyomingClient("127.0.0.1", server.sockets[0].getsockname()[1], timeout=timeout)


async def _endless_audio() -> AsyncIterator[bytes]:
    block = bytes(1 << 16)
    for _ in range(1024):  # 64 MiB: more than any socket buffers
        yield block


async def test_a_server_that_stops_reading_times_out_while_audio_streams(
    socket_enabled: None,
) -> None:
    stop = asyncio.Event()

    async def deaf(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await stop.wait()
        writer.close()

    async with _client_of(deaf, timeout=0.5) as client:
        with pytest.raises(ProviderTimeoutError, match="did not take data in time"):
            await client.transcribe(_endless_audio(), AudioFormat())
        stop.set()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Drop the connection with a reset (RST), as a crashed or restarted server does."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def test_a_server_reset_while_audio_streams_is_a_lost_connection(
    socket_enabled: None,
) -> None:
    reset = asyncio.Event()

    async def crash(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readline()
        _reset(writer)
        reset.set()

    async def audio() -> AsyncIterator[bytes]:
        yield b"\x00" * 3200
        await reset.wait()
        async for block in _endless_audio():
            yield block

    async with _client_of(crash, timeout=2) as client:
        with pytest.raises(ProviderConnectionError, match="Lost the connection"):
            await client.transcribe(audio(), AudioFormat())


async def test_a_server_reset_before_it_answers_is_a_lost_connection(
    socket_enabled: None,
) -> None:
    async def crash(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readline()
        _reset(writer)

    async with _client_of(crash, timeout=2) as client:
        with pytest.raises(ProviderConnectionError, match="Lost the connection"):
            await client.describe()
