"""Speech-to-text and text-to-speech over the Wyoming protocol (any Wyoming server).

Each call opens its own connection and always closes it, so a server restart never leaves a
broken socket behind. Every read is bounded by the client's time-out.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
import json

from wyoming.asr import Transcribe, Transcript as WyomingTranscript
from wyoming.audio import AudioChunk as WyomingAudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.tts import Synthesize, SynthesizeVoice

from .base import (
    AudioChunk,
    AudioFormat,
    Capability,
    ProviderConnectionError,
    ProviderResponseError,
    ProviderTimeoutError,
    Transcript,
    Usage,
)

# What a non-Wyoming peer makes the event reader raise.
_NOT_WYOMING = (ValueError, KeyError, TypeError, UnicodeDecodeError, json.JSONDecodeError)


@dataclass(frozen=True, slots=True)
class WyomingVoice:
    """A text-to-speech voice a server offers."""

    name: str
    languages: tuple[str, ...]
    description: str | None = None


@dataclass(frozen=True, slots=True)
class WyomingServices:
    """What a Wyoming server said it offers in answer to `describe`."""

    asr_models: tuple[str, ...] = ()
    asr_languages: tuple[str, ...] = ()
    tts_voices: tuple[WyomingVoice, ...] = ()
    wake_words: tuple[str, ...] = ()
    satellite: str | None = None

    @property
    def capabilities(self) -> frozenset[Capability]:
        """The capabilities these services give."""
        found = set()
        if self.asr_models:
            found.add(Capability.STT)
        if self.tts_voices:
            found.add(Capability.TTS)
        if self.wake_words:
            found.add(Capability.WAKE)
        return frozenset(found)

    @classmethod
    def from_info(cls, info: Info) -> WyomingServices:
        """Keep the installed programs and models of an `info` event."""
        asr = [model for program in info.asr if program.installed for model in program.models]
        return cls(
            asr_models=tuple(model.name for model in asr if model.installed),
            asr_languages=tuple(
                sorted({lang for model in asr if model.installed for lang in model.languages})
            ),
            tts_voices=tuple(
                WyomingVoice(voice.name, tuple(voice.languages), voice.description)
                for program in info.tts
                if program.installed
                for voice in program.voices
                if voice.installed
            ),
            wake_words=tuple(
                model.name
                for program in info.wake
                if program.installed
                for model in program.models
                if model.installed
            ),
            satellite=info.satellite.name if info.satellite else None,
        )


class WyomingClient:
    """A client of one Wyoming server; implements Transcriber and Synthesizer."""

    def __init__(self, host: str, port: int, *, timeout: float = 10.0) -> None:
        """Point at `host:port`; `timeout` bounds connecting and every read."""
        self.host = host
        self.port = port
        self._timeout = timeout

    def _where(self) -> str:
        return f"Wyoming server {self.host}:{self.port}"

    async def _connect(self) -> AsyncTcpClient:
        client = AsyncTcpClient(self.host, self.port)
        try:
            async with asyncio.timeout(self._timeout):
                await client.connect()
        except TimeoutError as err:
            raise ProviderTimeoutError(f"{self._where()} did not accept a connection") from err
        except OSError as err:
            raise ProviderConnectionError(f"Could not connect to {self._where()}") from err
        return client

    async def _read(self, client: AsyncTcpClient) -> Event:
        try:
            async with asyncio.timeout(self._timeout):
                event = await client.read_event()
        except TimeoutError as err:
            raise ProviderTimeoutError(f"{self._where()} did not answer in time") from err
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, *_NOT_WYOMING) as err:
            raise ProviderResponseError(f"{self._where()} is not a Wyoming server") from err
        except OSError as err:
            raise ProviderConnectionError(f"Lost the connection to {self._where()}") from err
        if event is None:  # the library returns None for a closed socket and for non-JSON alike
            raise ProviderResponseError(
                f"{self._where()} is not a Wyoming server or closed the connection"
            )
        return event

    async def _write(self, client: AsyncTcpClient, event: Event) -> None:
        try:
            await client.write_event(event)
        except OSError as err:
            raise ProviderConnectionError(f"Lost the connection to {self._where()}") from err

    async def describe(self) -> WyomingServices:
        """Ask the server what it offers."""
        client = await self._connect()
        try:
            await self._write(client, Describe().event())
            while not Info.is_type((event := await self._read(client)).type):
                continue
            try:
                info = Info.from_event(event)
            except _NOT_WYOMING as err:
                raise ProviderResponseError(f"{self._where()} sent a malformed info") from err
            return WyomingServices.from_info(info)
        finally:
            await client.disconnect()

    async def transcribe(
        self,
        audio: AsyncIterable[bytes],
        audio_format: AudioFormat,
        *,
        model: str | None = None,
        language: str | None = None,
    ) -> Transcript:
        """Stream PCM audio to the server and return its transcript."""
        rate, width, channels = audio_format.rate, audio_format.width, audio_format.channels
        client = await self._connect()
        try:
            await self._write(client, Transcribe(name=model, language=language).event())
            await self._write(client, AudioStart(rate, width, channels).event())
            sent = 0
            async for chunk in audio:
                sent += len(chunk)
                await self._write(client, WyomingAudioChunk(rate, width, channels, chunk).event())
            await self._write(client, AudioStop().event())
            while not WyomingTranscript.is_type((event := await self._read(client)).type):
                continue
            text = WyomingTranscript.from_event(event).text
            return Transcript(text, Usage(audio_seconds=audio_format.seconds(sent)))
        finally:
            await client.disconnect()

    async def synthesize(
        self,
        text: str,
        *,
        voice: str | None = None,
        model: str | None = None,
        language: str | None = None,
    ) -> AsyncIterator[AudioChunk]:
        """Stream PCM audio for `text` as the server produces it."""
        chosen = SynthesizeVoice(name=voice, language=language) if voice or language else None
        client = await self._connect()
        try:
            await self._write(client, Synthesize(text=text, voice=chosen).event())
            while True:
                event = await self._read(client)
                if AudioStop.is_type(event.type):
                    return
                if WyomingAudioChunk.is_type(event.type):
                    chunk = WyomingAudioChunk.from_event(event)
                    yield AudioChunk(
                        chunk.audio, AudioFormat(chunk.rate, chunk.width, chunk.channels)
                    )
        finally:
            await client.disconnect()
