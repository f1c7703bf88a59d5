"""Scenario of bench/vision.py: time to first audio of "what do you see?" asked to an endpoint.

Simulated providers speak the real wire protocols with scripted latency (`fast_cloud`): the
transcription answers 250 ms after the audio ends, the vision model's first token comes after
500 ms and then 80 tokens a second, the voice's first audio after 150 ms. A real assist pipeline
(Anima's listener, agent and voice) runs from speech-to-text with the endpoint's device; the
clock runs from the end of the audio to the first audio byte of the reply. Eager mode sends the
frame with the question (one model call); the tool path asks through `anima__look` (three).
Results go to the JSON file named by ANIMA_BENCH_OUT.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import dataclasses
import json
import os
from pathlib import Path
import statistics
import time
from typing import Any

from homeassistant.components import assist_pipeline, stt, tts
from homeassistant.const import CONF_FILE_PATH, CONF_NAME
from homeassistant.core import Context, HomeAssistant
from homeassistant.helpers import llm
from homeassistant.setup import async_setup_component
from PIL import Image
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.anima.endpoints import CAMERA, VISION_MODE
from custom_components.anima.profiles import (
    LLM_HASS_API,
    PROFILE_AGENT,
    PROFILE_LISTENER,
    PROFILE_VOICE,
    Link,
)
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.integration.anima_setup import (
    add_hub,
    add_openai,
    endpoint,
    profile,
    satellite_device,
)

TURNS = int(os.environ.get("ANIMA_BENCH_TURNS", "20"))
ASR_MS, FIRST_TOKEN_MS, TOKENS_PER_S, TTS_FIRST_MS = 250, 500, 80, 150
ANSWER = (
    "I see the kitchen counter with a cutting board, some vegetables and a pot on the stove. "
    "Nothing looks out of place."
)
METADATA = stt.SpeechMetadata(
    "en",
    stt.AudioFormats.WAV,
    stt.AudioCodecs.PCM,
    stt.AudioBitRates.BITRATE_16,
    stt.AudioSampleRates.SAMPLERATE_16000,
    stt.AudioChannels.CHANNEL_MONO,
)


def floor_ms() -> float:
    """ASR final + first token + the time to write the first 60 characters + first audio."""
    words, chars = 0, 0
    for word in ANSWER.split():
        words, chars = words + 1, chars + len(word) + 1
        if chars > 60:
            break
    return ASR_MS + FIRST_TOKEN_MS + (words - 1) * 1000 / TOKENS_PER_S + TTS_FIRST_MS


def paced(reply: Reply) -> Reply:
    return dataclasses.replace(
        reply, first_token_delay=FIRST_TOKEN_MS / 1000, chunk_delay=1 / TOKENS_PER_S
    )


async def _pipeline(hass: HomeAssistant, ws: WebSocketGenerator) -> str:
    client = await ws(hass)
    await client.send_json_auto_id(
        {
            "type": "assist_pipeline/pipeline/create",
            "name": "Bench",
            "language": "en",
            "conversation_engine": "conversation.anima_assistant",
            "conversation_language": "en",
            "stt_engine": "stt.anima_listener",
            "stt_language": "en",
            "tts_engine": "tts.anima_voice",
            "tts_language": "en",
            "tts_voice": None,
            "wake_word_entity": None,
            "wake_word_id": None,
        }
    )
    return str((await client.receive_json())["result"]["id"])


async def _turn(hass: HomeAssistant, pipeline: str, device: str) -> float:
    """One spoken turn; milliseconds from the end of the audio to the first reply audio."""
    ended = 0.0
    first_audio: asyncio.Future[float] = asyncio.get_running_loop().create_future()

    async def audio() -> AsyncIterator[bytes]:
        nonlocal ended
        for _ in range(10):
            yield b"\0" * 3200  # 100 ms of 16 kHz audio each
        ended = time.perf_counter()

    async def listen(token: str) -> None:
        stream = tts.async_get_stream(hass, token)
        assert stream is not None
        received = 0
        async for data in stream.async_stream_result():
            received += len(data)
            if received > 44 and not first_audio.done():
                first_audio.set_result(time.perf_counter())

    token: list[str] = []

    def on_event(event: assist_pipeline.PipelineEvent) -> None:
        data = event.data or {}
        if event.type is assist_pipeline.PipelineEventType.RUN_START:
            token.append(data["tts_output"]["token"])
        started = event.type is assist_pipeline.PipelineEventType.TTS_END or (
            event.type is assist_pipeline.PipelineEventType.INTENT_PROGRESS
            and data.get("tts_start_streaming")
        )
        if started and token:
            hass.async_create_background_task(listen(token.pop()), "bench listen")

    await assist_pipeline.async_pipeline_from_audio_stream(
        hass,
        context=Context(),
        event_callback=on_event,
        stt_metadata=METADATA,
        stt_stream=audio(),
        pipeline_id=pipeline,
        device_id=device,
    )
    return (await asyncio.wait_for(first_audio, 30) - ended) * 1000


async def _setup(
    hass: HomeAssistant, tmp_path: Path, mode: str
) -> tuple[str, FakeOpenAIServer, list[FakeOpenAIServer]]:
    image = tmp_path / "kitchen.jpg"
    Image.new("RGB", (1920, 1080), (90, 120, 60)).save(image, "JPEG")
    camera = MockConfigEntry(
        domain="local_file", options={CONF_NAME: "Kitchen", CONF_FILE_PATH: str(image)}
    )
    camera.add_to_hass(hass)
    assert await hass.config_entries.async_setup(camera.entry_id)
    assert await async_setup_component(hass, "assist_pipeline", {})
    servers = [FakeOpenAIServer(), FakeOpenAIServer(), FakeOpenAIServer()]
    for server in servers:
        await server.start()
    llm_server, stt_server, tts_server = servers
    stt_server.response_delay = ASR_MS / 1000
    tts_server.response_delay = TTS_FIRST_MS / 1000
    brain = await add_openai(hass, llm_server, "LLM", preset="openai")
    ears = await add_openai(hass, stt_server, "STT", preset="openai")
    voice = await add_openai(hass, tts_server, "TTS", preset="openai")
    device = satellite_device(hass, "Kitchen")
    await add_hub(
        hass,
        profile(
            PROFILE_AGENT,
            "Assistant",
            [Link(brain.entry_id, "gpt-4.1-mini")],
            **{LLM_HASS_API: [llm.LLM_API_ASSIST]},
        ),
        profile(PROFILE_LISTENER, "Listener", [Link(ears.entry_id, "whisper-1")]),
        profile(PROFILE_VOICE, "Voice", [Link(voice.entry_id, "tts-1", "nova")]),
        endpoint("Kitchen", device, **{CAMERA: "camera.kitchen", VISION_MODE: mode}),
    )
    stt_server.default_reply = None
    return device, llm_server, servers


async def _measure(
    hass: HomeAssistant, ws: WebSocketGenerator, tmp_path: Path, mode: str
) -> list[float]:
    device, llm_server, servers = await _setup(hass, tmp_path, mode)
    pipeline = await _pipeline(hass, ws)
    servers[1].reply(
        *(Reply.text("What do you see?") for _ in range(TURNS + 1)), endpoint="transcriptions"
    )
    samples = []
    try:
        for index in range(TURNS + 1):  # the first turn warms caches and is not counted
            if mode == "eager":
                llm_server.reply(paced(Reply.text(ANSWER)))
            else:
                llm_server.reply(
                    paced(Reply.tool_call("anima__look", {"question": "What do you see?"})),
                    paced(Reply.text(ANSWER)),
                    paced(Reply.text(ANSWER)),
                )
            ms = await _turn(hass, pipeline, device)
            if index:
                samples.append(ms)
    finally:
        for server in servers:
            await server.close()
    return samples


def _p95(samples: list[float]) -> float:
    return round(statistics.quantiles(samples, n=100, method="inclusive")[94], 1)


async def test_camera_question(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator, tmp_path: Path
) -> None:
    eager = await _measure(hass, hass_ws_client, tmp_path, "eager")
    result = {
        "ttfa_ms_p95_camera_question": _p95(eager),
        "ttfa_ms_p50_camera_question": round(statistics.median(eager), 1),
        "floor_ms_camera_question": round(floor_ms(), 1),
        "turns": TURNS,
    }
    Path(os.environ["ANIMA_BENCH_OUT"]).write_text(json.dumps(result))


async def test_camera_question_tool_path(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator, tmp_path: Path
) -> None:
    tool = await _measure(hass, hass_ws_client, tmp_path, "on_demand")
    out = Path(os.environ["ANIMA_BENCH_OUT"])
    result: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {}
    result["ttfa_ms_p95_camera_question_tool_path"] = _p95(tool)
    result["ttfa_ms_p50_camera_question_tool_path"] = round(statistics.median(tool), 1)
    out.write_text(json.dumps(result))
