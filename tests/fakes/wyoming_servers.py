"""Small real loopback servers for Wyoming tests: empty, silent, garbage and scripted peers.

Each is an async context manager with `host` and `port`, serving while the block lasts.
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Self

from wyoming.asr import Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event, async_read_event, async_write_event
from wyoming.info import Attribution, Describe, Info, TtsProgram, TtsVoice
from wyoming.server import AsyncEventHandler, AsyncServer
from wyoming.tts import Synthesize

from tests.fixtures.speech_servers import HOST, free_port

#: What a web server on the wrong port answers.
HTTP_400 = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 11\r\n\r\nBad Request"


def closed_port() -> int:
    """A loopback port where nothing listens."""
    return free_port()


class _Server:
    """A loopback TCP server running while the `async with` block lasts."""

    host = HOST

    def __init__(self) -> None:
        self.port = 0
        self._server: asyncio.Server | None = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._handle, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        self._server.close_clients()
        await self._server.wait_closed()


class SilentServer(_Server):
    """Accepts connections and never answers."""

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client gives up
        writer.close()


class GarbageServer(_Server):
    """Reads the first line, answers `payload` (an HTTP 400 page by default) and hangs up."""

    def __init__(self, payload: bytes = HTTP_400) -> None:
        super().__init__()
        self.payload = payload

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readline()
        writer.write(self.payload)
        await writer.drain()
        writer.close()


class _WyomingServer:
    """A real Wyoming server (wyoming.server) running while the `async with` block lasts."""

    host = HOST

    def __init__(self) -> None:
        self.port = free_port()
        self._server = AsyncServer.from_uri(f"tcp://{self.host}:{self.port}")

    def _handler(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> _Handler:
        return _Handler(self, reader, writer)

    async def answer(self, event: Event, handler: AsyncEventHandler) -> None:
        """Answer one event the client sent."""

    async def __aenter__(self) -> Self:
        await self._server.start(self._handler)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._server.stop()


class _Handler(AsyncEventHandler):
    def __init__(
        self, server: _WyomingServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        super().__init__(reader, writer)
        self._owner = server

    async def handle_event(self, event: Event) -> bool:
        await self._owner.answer(event, self)
        return True


class EmptyWyomingServer(_WyomingServer):
    """A real Wyoming server that offers no speech-to-text, text-to-speech or wake word."""

    async def answer(self, event: Event, handler: AsyncEventHandler) -> None:
        """Answer `describe` with an empty `info`."""
        if Describe.is_type(event.type):
            await handler.write_event(Info().event())


_ATTRIBUTION = Attribution(name="tests", url="https://example.invalid")


def _voice_info(program: str, voice: str, description: str, languages: list[str]) -> Info:
    """An `info` offering one installed text-to-speech voice."""
    return Info(
        tts=[
            TtsProgram(
                name=program,
                attribution=_ATTRIBUTION,
                installed=True,
                description=None,
                version=None,
                voices=[
                    TtsVoice(
                        name=voice,
                        attribution=_ATTRIBUTION,
                        installed=True,
                        description=description,
                        version=None,
                        languages=languages,
                    )
                ],
            )
        ]
    )


SCRIPTED_INFO = _voice_info("scripted-tts", "scripted-voice", "A voice for tests", ["en_GB"])


class ScriptedWyomingServer(_WyomingServer):
    """A Wyoming server that records what it receives and answers from a short script.

    `describe` gets `chatter` unrelated events, then SCRIPTED_INFO. The audio of a transcription
    is answered with the transcript "heard N bytes". `synthesize` gets one audio chunk at once,
    and the second chunk and audio-stop only after `release` is set.
    """

    def __init__(self, *, chatter: int = 0) -> None:
        super().__init__()
        self.chatter = chatter
        self.received: list[Event] = []
        self.release = asyncio.Event()

    async def answer(self, event: Event, handler: AsyncEventHandler) -> None:
        """Record `event` and answer it from the script."""
        self.received.append(event)
        if Describe.is_type(event.type):
            for number in range(self.chatter):
                await handler.write_event(Event("ping", {"number": number}))
            await handler.write_event(SCRIPTED_INFO.event())
        elif AudioStop.is_type(event.type):
            heard = sum(len(e.payload or b"") for e in self.received if AudioChunk.is_type(e.type))
            await handler.write_event(Transcript(f"heard {heard} bytes").event())
        elif Synthesize.is_type(event.type):
            await handler.write_event(AudioStart(16000, 2, 1).event())
            await handler.write_event(AudioChunk(16000, 2, 1, b"\x01\x00" * 160).event())
            await self.release.wait()
            await handler.write_event(AudioChunk(16000, 2, 1, b"\x02\x00" * 160).event())
            await handler.write_event(AudioStop().event())


LIAR_INFO = _voice_info("liar-tts", "liar", "A voice that answers garbage", ["en-us", "en"])
#: An audio chunk announcing a 2 GB payload (then sending what it can of it).
OVERSIZED_CHUNK = (
    b'{"type": "audio-chunk", "data": {"rate": 22050, "width": 2, "channels": 1}, '
    b'"payload_length": 2000000000}\n'
)


class LyingVoiceServer(_Server):
    """A Wyoming voice that describes itself properly, then answers `synthesize` with `answer`
    bytes (garbage, a header announcing more than any event holds, ...) and as much filler as
    the client takes, up to `filler` bytes. `asked` holds when each synthesis was asked for."""

    def __init__(self, answer: bytes, *, filler: int = 0) -> None:
        super().__init__()
        self.reply = answer
        self.filler = filler
        self.asked: list[float] = []

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while (event := await async_read_event(reader)) is not None:
                if Describe.is_type(event.type):
                    await async_write_event(LIAR_INFO.event(), writer)
                elif Synthesize.is_type(event.type):
                    self.asked.append(asyncio.get_running_loop().time())
                    writer.write(self.reply)
                    block, sent = bytes(1 << 20), 0
                    await writer.drain()
                    while sent < self.filler:
                        writer.write(block)
                        await writer.drain()
                        sent += len(block)
                    break
        except ConnectionError:
            pass  # the client hung up on the lie
        finally:
            writer.close()
