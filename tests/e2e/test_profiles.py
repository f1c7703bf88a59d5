"""Profiles in a real Home Assistant 2026.11: an agent and a voice set up over REST, then used."""

from __future__ import annotations

import io
from typing import Any
import wave

from scripts.hassctl import HassProcess, chain_options
from tests.e2e.test_smoke import openai_steps, wait_for_state, wyoming_steps
from tests.fakes.openai_server import FakeOpenAIServer, Reply


def _choose(name: str, wanted: str) -> Any:
    def choose(form: dict[str, Any]) -> dict[str, Any]:
        return {"name": name, "chain": [v for v, label in chain_options(form) if wanted in label]}

    return choose


async def test_agent_and_voice_profiles_answer_and_speak(
    anima_hass: HassProcess, openai_server: FakeOpenAIServer, piper_server: Any
) -> None:
    hass = anima_hass
    assert openai_server.api_key is not None
    cloud = await hass.config_flow(
        "anima", openai_steps(openai_server.base_url, openai_server.api_key)
    )
    piper = await hass.config_flow("anima", wyoming_steps(piper_server.host, piper_server.port))
    hub = await hass.config_flow("anima", [{"next_step_id": "hub"}])
    assert hub["type"] == "create_entry", hub
    for entry in (cloud, piper, hub):
        await wait_for_state(hass, entry["result"]["entry_id"], "loaded")
    hub_id = hub["result"]["entry_id"]

    agent = await hass.subentry_flow(hub_id, "agent", _choose("Assistant", "gpt-4.1-mini"))
    voice = await hass.subentry_flow(hub_id, "voice", _choose("Voice", "joe"))
    assert (agent["type"], voice["type"]) == ("create_entry", "create_entry"), (agent, voice)
    await wait_for_state(hass, hub_id, "loaded")

    openai_server.reply(Reply.text("Paris is the capital of France."))
    answer = await hass.request(
        "POST",
        "/api/conversation/process",
        {"text": "What is the capital of France?", "agent_id": "conversation.anima_assistant"},
    )
    assert answer["response"]["speech"]["plain"]["speech"] == "Paris is the capital of France."
    assert openai_server.requests[-1].json["model"] == "gpt-4.1-mini"

    url = await hass.request(
        "POST",
        "/api/tts_get_url",
        {
            "engine_id": "tts.anima_voice",
            "message": "Paris is the capital of France.",
            "language": "en",
            "options": {"preferred_format": "wav"},
        },
    )
    audio = await hass.request_bytes("GET", url["path"])
    with wave.open(io.BytesIO(audio)) as reader:
        assert reader.getframerate() == 22050
        assert reader.getnframes() / reader.getframerate() > 1.0
