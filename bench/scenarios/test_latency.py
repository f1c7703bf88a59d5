"""Scenario of bench/latency.py: end of speech to first reply audio, per provider profile.

A real assist pipeline (Anima's listener, agent and voice) with simulated providers (the fake
OpenAI-compatible service, real HTTP and SSE) whose latency is scripted per profile. Each turn
streams one second of audio; the clock runs from its end to the first audio byte of the reply.
Results go to the JSON file named by ANIMA_BENCH_OUT.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
import statistics
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.anima.core.profiles import (
    PROFILE_AGENT,
    PROFILE_LISTENER,
    PROFILE_VOICE,
    Link,
)
from custom_components.anima.runtime.data import AnimaData
from custom_components.anima.tts import AnimaTextToSpeechEntity
from tests.fakes.openai_server import Reply
from tests.integration.anima_setup import add_hub, add_openai, profile

from .harness import Profile, create_pipeline, start_servers, timed_turn

TURNS = int(os.environ.get("ANIMA_BENCH_TURNS", "50"))
SATELLITES = int(os.environ.get("ANIMA_BENCH_SATELLITES", "50"))
ANSWER = (
    "Paris is the capital of France, and with about two million people it is also its largest "
    "city. It lies on the Seine in the north of the country."
)
PROFILES = {
    p.name: p
    for p in (
        Profile("zero", 0, 0, 0, 0),
        Profile("fast_cloud", 250, 300, 80, 150),
        Profile("typical_cloud", 300, 350, 40, 200),
        Profile("slow_cloud", 600, 800, 20, 400),
    )
}


def _p95(samples: list[float]) -> float:
    return round(statistics.quantiles(samples, n=100, method="inclusive")[94], 1)


async def _setup(hass: HomeAssistant, ws: WebSocketGenerator, name: str) -> tuple[str, Any]:
    latency = PROFILES[name]
    servers = await start_servers(latency)
    brain = await add_openai(hass, servers[0], "LLM", preset="openai")
    ears = await add_openai(hass, servers[1], "STT", preset="openai")
    voice = await add_openai(hass, servers[2], "TTS", preset="openai")
    await add_hub(
        hass,
        profile(PROFILE_AGENT, "Assistant", [Link(brain.entry_id, "gpt-4.1-mini")]),
        profile(PROFILE_LISTENER, "Listener", [Link(ears.entry_id, "whisper-1")]),
        profile(PROFILE_VOICE, "Voice", [Link(voice.entry_id, "tts-1", "nova")]),
    )
    assert await async_setup_component(hass, "assist_pipeline", {})
    return await create_pipeline(hass, ws), servers


async def _turns(hass: HomeAssistant, ws: WebSocketGenerator, name: str) -> list[float]:
    """Time TURNS turns of a profile (one more first, to warm caches, not counted)."""
    latency = PROFILES[name]
    pipeline, servers = await _setup(hass, ws, name)
    question = Reply.text("What is the capital of France?")
    servers[1].reply(*(question for _ in range(TURNS + 1)), endpoint="transcriptions")
    samples = []
    try:
        for index in range(TURNS + 1):
            servers[0].reply(latency.paced(Reply.text(ANSWER)))
            ms = await timed_turn(hass, pipeline)
            if index:
                samples.append(ms)
    finally:
        for server in servers:
            await server.close()
    return samples


def _write(result: dict[str, Any]) -> None:
    out = Path(os.environ["ANIMA_BENCH_OUT"])
    current = json.loads(out.read_text()) if out.exists() else {}
    out.write_text(json.dumps(current | result))


@pytest.mark.parametrize("name", list(PROFILES))
async def test_profile(hass: HomeAssistant, hass_ws_client: WebSocketGenerator, name: str) -> None:
    latency = PROFILES[name]
    samples = await _turns(hass, hass_ws_client, name)
    floor = latency.floor_ms(ANSWER)
    own = AnimaData.of(hass).timings.as_dict()["summary"]
    result = {
        f"ttfa_ms_p95_{name}": _p95(samples),
        f"ttfa_ms_p50_{name}": round(statistics.median(samples), 1),
        f"provider_floor_ms_{name}": round(floor, 1),
        f"overhead_ms_p95_{name}": _p95([ms - floor for ms in samples]),
        f"anima_own_ms_p95_{name}": {stage: own[stage]["own_ms_95"] for stage in own},
    }
    if name == "zero":
        result["hub_overhead_ms_p95"] = _p95(samples)  # providers take no time: all is overhead
    _write(result)


async def test_typical_cloud_without_streaming(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same turns when the voice cannot take streamed text: it waits for the whole answer."""
    monkeypatch.setattr(
        AnimaTextToSpeechEntity, "async_supports_streaming_input", lambda self: False
    )
    samples = await _turns(hass, hass_ws_client, "typical_cloud")
    _write({"ttfa_ms_p95_typical_cloud_nonstreaming": _p95(samples)})


async def test_fifty_satellites_at_once(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator
) -> None:
    """50 turns started together under fast_cloud: what the hub adds when it is busy."""
    latency = PROFILES["fast_cloud"]
    pipeline, servers = await _setup(hass, hass_ws_client, "fast_cloud")
    servers[1].reply(
        *(Reply.text("What is the capital of France?") for _ in range(SATELLITES + 1)),
        endpoint="transcriptions",
    )
    servers[0].reply(*(latency.paced(Reply.text(ANSWER)) for _ in range(SATELLITES + 1)))
    try:
        await timed_turn(hass, pipeline)  # warm up
        samples = await asyncio.gather(*(timed_turn(hass, pipeline) for _ in range(SATELLITES)))
    finally:
        for server in servers:
            await server.close()
    floor = latency.floor_ms(ANSWER)
    own = AnimaData.of(hass).timings.as_dict()["summary"]
    _write(
        {
            "hub_overhead_ms_p95_50_satellites": _p95([ms - floor for ms in samples]),
            "ttfa_ms_p95_50_satellites": _p95(list(samples)),
            "ttfa_ms_min_50_satellites": round(min(samples), 1),
            "anima_own_ms_p95_50_satellites": {s: own[s]["own_ms_95"] for s in own},
            "provider_ms_p95_50_satellites": {s: own[s]["provider_ms_95"] for s in own},
        }
    )
