"""One timed turn through Home Assistant's assist pipeline, in whichever Home Assistant runs it.

Only Home Assistant's own modules: the scenarios run it inside pytest-homeassistant-custom-
component's Home Assistant, and bench/hass_component/ inside a real `hass` process.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
import math
import struct
import time
from typing import Any

from homeassistant.components import assist_pipeline, stt, tts
from homeassistant.core import Context, HomeAssistant

METADATA = stt.SpeechMetadata(
    "en",
    stt.AudioFormats.WAV,
    stt.AudioCodecs.PCM,
    stt.AudioBitRates.BITRATE_16,
    stt.AudioSampleRates.SAMPLERATE_16000,
    stt.AudioChannels.CHANNEL_MONO,
)
#: One second of a 220 Hz tone at -20 dBFS, 16 kHz: the providers are simulated, but a listener
#: gives no transcript for silence, so the request must hold sound.
SOUND: bytes = struct.pack(
    "<16000h", *(int(3277 * math.sin(2 * math.pi * 220 * n / 16000)) for n in range(16000))
)


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
    hass: HomeAssistant,
    pipeline: str,
    device: str | None = None,
    audio_pcm: bytes | None = None,
    output: str | dict[str, Any] | None = None,
) -> float:
    """One spoken turn; milliseconds from the end of the audio to the first reply audio byte.

    `output` is what the pipeline asks of the voice (`tts_audio_output`): None for Home
    Assistant's default (MP3, a browser's), "wav" (16 kHz), or a satellite's options.
    """
    ended = 0.0
    first_audio: asyncio.Future[float] = asyncio.get_running_loop().create_future()

    async def audio() -> AsyncIterator[bytes]:
        nonlocal ended
        pcm = audio_pcm if audio_pcm is not None else SOUND
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
        tts_audio_output=output,
    )
    return (await asyncio.wait_for(first_audio, 60) - ended) * 1000
