"""Shared parts of the benchmark scenarios: simulated providers, the pipeline (a turn: turns.py).

The providers are the fake OpenAI-compatible service (real HTTP, SSE, the real wire format)
with scripted latency; Home Assistant, its assist pipeline and Anima are real.
"""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from bench.latency_profiles import Profile
from tests.fakes.openai_server import FakeOpenAIServer
from tests.integration.anima_setup import anima_pipeline

from .turns import on_reply_audio, timed_turn

__all__ = ["create_pipeline", "on_reply_audio", "start_servers", "timed_turn"]


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
