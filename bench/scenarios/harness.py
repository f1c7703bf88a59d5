"""Shared parts of the benchmark scenarios: simulated providers, the pipeline, one timed turn.

The providers are the fake OpenAI-compatible service (real HTTP, SSE, the real wire format)
with scripted latency; Home Assistant, its assist pipeline and Anima are real.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
import dataclasses
from dataclasses import dataclass
import time

from homeassistant.components import assist_pipeline, stt, tts
from homeassistant.core import Context, HomeAssistant
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.integration.anima_setup import anima_pipeline

METADATA = stt.SpeechMetadata(
    "en",
    stt.AudioFormats.WAV,
    stt.AudioCodecs.PCM,
    stt.AudioBitRates.BITRATE_16,
    stt.AudioSampleRates.SAMPLERATE_16000,
    stt.AudioChannels.CHANNEL_MONO,
)
STREAM_RESPONSE_CHARS = 60  # Home Assistant's pipeline streams to the voice after this much


@dataclass(frozen=True)
class Profile:
    """Scripted provider latency: ASR final after the audio, LLM first token and rate, TTS."""

    name: str
    asr_ms: float
    first_token_ms: float
    tokens_per_s: float
    tts_first_ms: float

    def floor_ms(self, answer: str) -> float:
        """ASR final + first token + time to write the first 60 characters + first audio."""
        words = chars = 0
        for word in answer.split():
            words, chars = words + 1, chars + len(word) + 1
            if chars > STREAM_RESPONSE_CHARS:
                break
        writing = (words - 1) * 1000 / self.tokens_per_s if self.tokens_per_s else 0.0
        return self.asr_ms + self.first_token_ms + writing + self.tts_first_ms

    def paced(self, reply: Reply) -> Reply:
        """The reply at this profile's LLM pace."""
        return dataclasses.replace(
            reply,
            first_token_delay=self.first_token_ms / 1000,
            chunk_delay=1 / self.tokens_per_s if self.tokens_per_s else 0.0,
        )


async def start_servers(
    profile: Profile,
) -> tuple[FakeOpenAIServer, FakeOpenAIServer, FakeOpenAIServer]:
    """The LLM, transcription and speech services, each with the profile's latency."""
    servers = (FakeOpenAIServer(), FakeOpenAIServer(), FakeOpenAIServer())
    for server in servers:
        await server.start()
    servers[1].response_delay = profile.asr_ms / 1000
    servers[2].response_delay = profile.tts_first_ms / 1000
    return servers


async def create_pipeline(hass: HomeAssistant, ws: WebSocketGenerator) -> str:
    """A pipeline of Anima's listener, agent and voice; its id."""
    client = await ws(hass)
    await client.send_json_auto_id(anima_pipeline("Bench"))
    return str((await client.receive_json())["result"]["id"])


def on_reply_audio(
    listen: Callable[[str], None],
) -> Callable[[assist_pipeline.PipelineEvent], None]:
    """A pipeline event callback that calls `listen(token)` once the reply's audio can be read."""
    tokens: list[str] = []

    def on_event(event: assist_pipeline.PipelineEvent) -> None:
        data = event.data or {}
        if event.type is assist_pipeline.PipelineEventType.RUN_START:
            tokens.append(data["tts_output"]["token"])
        started = event.type is assist_pipeline.PipelineEventType.TTS_END or (
            event.type is assist_pipeline.PipelineEventType.INTENT_PROGRESS
            and data.get("tts_start_streaming")
        )
        if started and tokens:
            listen(tokens.pop())

    return on_event


async def timed_turn(
    hass: HomeAssistant, pipeline: str, device: str | None = None, audio_pcm: bytes | None = None
) -> float:
    """One spoken turn; milliseconds from the end of the audio to the first reply audio byte."""
    ended = 0.0
    first_audio: asyncio.Future[float] = asyncio.get_running_loop().create_future()

    async def audio() -> AsyncIterator[bytes]:
        nonlocal ended
        pcm = audio_pcm if audio_pcm is not None else b"\0" * 32000
        for start in range(0, len(pcm), 3200):
            yield pcm[start : start + 3200]
        ended = time.perf_counter()

    async def listen(token: str) -> None:
        stream = tts.async_get_stream(hass, token)
        assert stream is not None
        received = 0
        async for data in stream.async_stream_result():
            received += len(data)
            if received > 44 and not first_audio.done():
                first_audio.set_result(time.perf_counter())

    def heard(token: str) -> None:
        hass.async_create_background_task(listen(token), "bench listen")

    await assist_pipeline.async_pipeline_from_audio_stream(
        hass,
        context=Context(),
        event_callback=on_reply_audio(heard),
        stt_metadata=METADATA,
        stt_stream=audio(),
        pipeline_id=pipeline,
        device_id=device,
    )
    return (await asyncio.wait_for(first_audio, 60) - ended) * 1000
