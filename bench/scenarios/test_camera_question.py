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

import json
import os
from pathlib import Path
import statistics
from typing import Any

from homeassistant.const import CONF_FILE_PATH, CONF_NAME
from homeassistant.core import HomeAssistant
from homeassistant.helpers import llm
from homeassistant.setup import async_setup_component
from PIL import Image
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.anima.core.endpoints import CAMERA, VISION_MODE
from custom_components.anima.core.profiles import (
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

from .harness import Profile, create_pipeline, start_servers, timed_turn

TURNS = int(os.environ.get("ANIMA_BENCH_TURNS", "20"))
#: fast_cloud with a vision model's slower first token.
FAST_CLOUD = Profile(
    "fast_cloud_vision", asr_ms=250, first_token_ms=500, tokens_per_s=80, tts_first_ms=150
)
ANSWER = (
    "I see the kitchen counter with a cutting board, some vegetables and a pot on the stove. "
    "Nothing looks out of place."
)


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
    servers = await start_servers(FAST_CLOUD)
    llm_server, stt_server, tts_server = servers
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
    return device, llm_server, list(servers)


async def _measure(
    hass: HomeAssistant, ws: WebSocketGenerator, tmp_path: Path, mode: str
) -> list[float]:
    device, llm_server, servers = await _setup(hass, tmp_path, mode)
    pipeline = await create_pipeline(hass, ws)
    servers[1].reply(
        *(Reply.text("What do you see?") for _ in range(TURNS + 1)), endpoint="transcriptions"
    )
    samples = []
    try:
        for index in range(TURNS + 1):  # the first turn warms caches and is not counted
            if mode == "eager":
                llm_server.reply(FAST_CLOUD.paced(Reply.text(ANSWER)))
            else:
                llm_server.reply(
                    FAST_CLOUD.paced(
                        Reply.tool_call("anima__look", {"question": "What do you see?"})
                    ),
                    FAST_CLOUD.paced(Reply.text(ANSWER)),
                    FAST_CLOUD.paced(Reply.text(ANSWER)),
                )
            ms = await timed_turn(hass, pipeline, device)
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
        "floor_ms_camera_question": round(FAST_CLOUD.floor_ms(ANSWER), 1),
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
