"""Speech-to-text and text-to-speech over the Wyoming protocol (any Wyoming server).

Each call opens its own connection and always closes it, so a server restart never leaves a
broken socket behind. Connecting, every write and every read are bounded by the client's
time-out, and whatever a peer sends is checked: a peer that does not speak Wyoming, or announces
an event larger than `LIMITS` allow, gives a ProviderResponseError, never a raw parsing
exception or a read of whatever it announced.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass

from wyoming.asr import Transcribe, Transcript as WyomingTranscript
from wyoming.audio import AudioChunk as WyomingAudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event, async_write_event
from wyoming.info import Describe, Info
from wyoming.tts import Synthesize, SynthesizeVoice

from ..protocol import WireError, WireLimits, read_event
from .base import (
    PCM,
    AudioChunk,
    AudioFormat,
    Capability,
    ProviderConnectionError,
    ProviderError,
    ProviderResponseError,
    ProviderTimeoutError,
    Transcript,
    Usage,
)

#: The most one event of a speech server may hold: Piper's `info` lists every voice it knows
#: (megabytes with their speakers); an audio chunk is a fraction of a second.
LIMITS = WireLimits(
    header=1 << 20,
    data=16 << 20,
    payload={"audio-chunk": 4 << 20},
    other_payload=1 << 20,
)


@dataclass(frozen=True, slots=True)
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter


@dataclass(frozen=True, slots=True)
class WyomingVoice:
    """A text-to-speech voice a server offers."""

    name: str
    languages: tuple[str, ...]
    description: str | None = None


@dataclass(frozen=True, slots=True)
class WyomingServices:
    """What a Wyoming server said it offers in answer to `describe` (installed items only)."""

    asr_models: tuple[str, ...] = ()
    asr_languages: tuple[str, ...] = ()
    tts_voices: tuple[WyomingVoice, ...] = ()
    wake_words: tuple[str, ...] = ()
    satellite: str | None = None
    #: Names of the installed speech-to-text programs (a program may list no models).
    asr_programs: tuple[str, ...] = ()
    #: Names of the installed text-to-speech and wake word programs (what names the server).
    tts_programs: tuple[str, ...] = ()
    wake_programs: tuple[str, ...] = ()

    @property
    def capabilities(self) -> frozenset[Capability]:
        """The capabilities these services give."""
        found = set[Capability]()
        if self.asr_programs:
            found.add(Capability.STT)
        if self.tts_voices:
            found.add(Capability.TTS)
        if self.wake_words:
            found.add(Capability.WAKE)
        return frozenset(found)

    @classmethod
    def from_info(cls, info: Info) -> WyomingServices:
        """Keep the installed programs, models and voices of an `info` event."""
        asr = [program for program in info.asr if program.installed]
        tts = [program for program in info.tts if program.installed]
        wake = [program for program in info.wake if program.installed]
        models = [model for program in asr for model in program.models if model.installed]
        return cls(
            asr_models=tuple(str(model.name) for model in models),
            asr_languages=tuple(sorted({str(lang) for m in models for lang in m.languages})),
            tts_voices=tuple(
                WyomingVoice(str(voice.name), tuple(map(str, voice.languages)), voice.description)
                for program in tts
                for voice in program.voices
                if voice.installed
            ),
            wake_words=tuple(
                str(model.name) for program in wake for model in program.models if model.installed
            ),
            satellite=info.satellite.name if info.satellite and info.satellite.installed else None,
            asr_programs=tuple(str(program.name) for program in asr),
            tts_programs=tuple(str(program.name) for program in tts),
            wake_programs=tuple(str(program.name) for program in wake),
        )


def _services(event: Event) -> WyomingServices:
    return WyomingServices.from_info(Info.from_event(event))


def _transcript_text(event: Event) -> str:
    text = WyomingTranscript.from_event(event).text
    if not isinstance(text, str):
        raise TypeError("transcript text is not a string")
    return text


def _audio(event: Event) -> AudioChunk:
    chunk = WyomingAudioChunk.from_event(event)
    layout = (chunk.rate, chunk.width, chunk.channels)
    if not all(isinstance(value, int) and value > 0 for value in layout):
        raise ValueError(f"bad audio format {layout!r}")
    return AudioChunk(bytes(chunk.audio), AudioFormat(*layout))


class WyomingClient:
    """A client of one Wyoming server; implements Transcriber and Synthesizer."""

    def __init__(self, host: str, port: int, *, timeout: float = 10.0) -> None:
        """Point at `host:port`; `timeout` bounds connecting, every write and every read."""
        self.host = host
        self.port = port
        self._timeout = timeout

    @property
    def _where(self) -> str:
        return f"Wyoming server {self.host}:{self.port}"

    @asynccontextmanager
    async def _open(self) -> AsyncIterator[_Connection]:
        """Connect, and always close the connection afterwards."""
        try:
            async with asyncio.timeout(self._timeout):
                reader, writer = await asyncio.open_connection(
                    self.host, self.port, limit=LIMITS.header
                )
        except TimeoutError as err:
            raise ProviderTimeoutError(f"{self._where} did not accept a connection") from err
        except (OSError, ValueError, OverflowError) as err:  # refused, unreachable, bad address
            raise ProviderConnectionError(f"Could not connect to {self._where}") from err
        try:
            yield _Connection(reader, writer)
        finally:
            writer.close()
            with suppress(OSError, TimeoutError):  # the peer may have reset it already
                async with asyncio.timeout(self._timeout):
                    await writer.wait_closed()

    def _not_wyoming(self, detail: str) -> ProviderResponseError:
        return ProviderResponseError(f"{self._where} is not a Wyoming server ({detail})")

    def _parse[T](self, parse: Callable[[Event], T], event: Event) -> T:
        try:
            return parse(event)
        except Exception as err:  # a malformed event fails in many ways: map them all
            raise self._not_wyoming(f"malformed {event.type} event") from err

    async def _write(self, tcp: _Connection, event: Event) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                await async_write_event(event, tcp.writer)
        except TimeoutError as err:
            raise ProviderTimeoutError(f"{self._where} did not take data in time") from err
        except OSError as err:
            raise ProviderConnectionError(f"Lost the connection to {self._where}") from err

    async def _read(self, tcp: _Connection, deadline: float | None = None) -> Event:
        """Read one event before `deadline` (loop time), or within the time-out if None."""
        if deadline is None:
            deadline = asyncio.get_running_loop().time() + self._timeout
        try:
            async with asyncio.timeout_at(deadline):
                event = await read_event(tcp.reader, LIMITS)
        except TimeoutError as err:
            raise ProviderTimeoutError(f"{self._where} did not answer in time") from err
        except OSError as err:
            raise ProviderConnectionError(f"Lost the connection to {self._where}") from err
        except WireError as err:  # bad JSON, lengths or framing, or more than an event holds
            raise self._not_wyoming(str(err)) from err
        if event is None:
            raise self._not_wyoming("closed the connection")
        if Error.is_type(event.type):
            text = self._parse(lambda e: str(Error.from_event(e).text), event)
            raise ProviderError(f"{self._where} reported an error: {text}")
        return event

    async def _wait_for(self, tcp: _Connection, event_type: str) -> Event:
        """Skip other events until one of `event_type` arrives, all within the time-out."""
        deadline = asyncio.get_running_loop().time() + self._timeout
        while (event := await self._read(tcp, deadline)).type != event_type:
            continue
        return event

    async def describe(self) -> WyomingServices:
        """Ask the server what it offers."""
        async with self._open() as tcp:
            await self._write(tcp, Describe().event())
            return self._parse(_services, await self._wait_for(tcp, "info"))

    async def transcribe(
        self,
        audio: AsyncIterable[bytes],
        audio_format: AudioFormat,
        *,
        model: str | None = None,
        language: str | None = None,
    ) -> Transcript:
        """Stream PCM audio of `audio_format` to the server and return its transcript."""
        layout = (audio_format.rate, audio_format.width, audio_format.channels)
        async with self._open() as tcp:
            await self._write(tcp, Transcribe(name=model, language=language).event())
            await self._write(tcp, AudioStart(*layout).event())
            sent = 0
            async for chunk in audio:
                if chunk:
                    sent += len(chunk)
                    await self._write(tcp, WyomingAudioChunk(*layout, audio=chunk).event())
            await self._write(tcp, AudioStop().event())
            text = self._parse(_transcript_text, await self._wait_for(tcp, "transcript"))
        return Transcript(text, Usage(audio_seconds=audio_format.seconds(sent)))

    async def synthesize(
        self,
        text: str,
        *,
        voice: str | None = None,
        model: str | None = None,
        language: str | None = None,
        codec: str = PCM,
    ) -> AsyncGenerator[AudioChunk]:
        """Stream PCM audio for `text` as the server produces it.

        Wyoming chooses speech by voice, so `model` is ignored, and speaks PCM whatever `codec`
        is asked. Each chunk must arrive within the time-out of the one before; the whole
        synthesis may take longer.
        """
        chosen = SynthesizeVoice(name=voice, language=language) if voice or language else None
        async with self._open() as tcp:
            await self._write(tcp, Synthesize(text=text, voice=chosen).event())
            while not AudioStop.is_type((event := await self._read(tcp)).type):
                if WyomingAudioChunk.is_type(event.type):
                    yield self._parse(_audio, event)
