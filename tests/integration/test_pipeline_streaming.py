"""A real assist pipeline, agent to voice: speech starts while the model is still writing."""

from __future__ import annotations

import asyncio
import dataclasses
import time

from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator, WebSocketGenerator
from yarl import URL

from custom_components.anima.core.profiles import PROFILE_AGENT, PROFILE_VOICE, Link
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.fixtures.speech_servers import SpeechServer
from tests.integration.anima_setup import (
    add_hub,
    add_openai,
    add_wyoming,
    anima_pipeline,
    profile,
)

ANSWER = (
    "The capital of France is Paris. It sits on the Seine in the north of the country, "
    "and it has been the capital for many centuries."
)


async def test_first_sentence_is_heard_before_the_agent_finishes(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    hass_client: ClientSessionGenerator,
    openai_server: FakeOpenAIServer,
    piper_server: SpeechServer,
) -> None:
    assert await async_setup_component(hass, "assist_pipeline", {})
    cloud = await add_openai(hass, openai_server, "Cloud")
    piper = await add_wyoming(hass, piper_server, "Piper")
    await add_hub(
        hass,
        profile(PROFILE_AGENT, "Assistant", [Link(cloud.entry_id, "gpt-4.1-mini")]),
        profile(PROFILE_VOICE, "Voice", [Link(piper.entry_id, voice="en_US-joe-medium")]),
    )
    # The model stops writing after 80 characters (Home Assistant streams to the voice after
    # 60) until the first audio is heard, or for at most 30 s: a voice that waits for the whole
    # answer is heard late.
    resume = asyncio.Event()
    give_up = hass.loop.call_later(30, resume.set)
    words_in_80_chars = len(ANSWER[:80].split())
    openai_server.reply(
        dataclasses.replace(
            Reply.text(ANSWER), chunk_delay=0.01, paused_at=words_in_80_chars, resume=resume
        )
    )
    ws = await hass_ws_client(hass)
    http = await hass_client()
    # Text in (no speech-to-text), speech out.
    await ws.send_json_auto_id(
        {**anima_pipeline("Streaming"), "stt_engine": None, "stt_language": None}
    )
    pipeline = (await ws.receive_json())["result"]["id"]
    await ws.send_json_auto_id(
        {
            "type": "assist_pipeline/run",
            "start_stage": "intent",
            "end_stage": "tts",
            "input": {"text": "What is the capital of France?"},
            "pipeline": pipeline,
        }
    )
    assert (await ws.receive_json())["success"]
    audio_url = ""
    first_audio_at: list[float] = []

    async def listen() -> None:
        """What a satellite does: fetch the streamed answer and play it as it comes."""
        response = await http.get(URL(audio_url).path)
        assert response.status == 200
        received = 0
        async for data in response.content.iter_any():
            received += len(data)
            if received > 44 + 4410 and not first_audio_at:  # header, then 0.1 s of speech
                first_audio_at.append(time.monotonic())
                resume.set()

    listener: asyncio.Task[None] | None = None
    intent_end_at = 0.0
    while (event := (await ws.receive_json())["event"])["type"] != "run-end":
        assert event["type"] != "error", event
        if event["type"] == "run-start":
            audio_url = event["data"]["tts_output"]["url"]
            assert event["data"]["tts_output"]["stream_response"] is True
        elif event["type"] == "intent-progress" and event["data"].get("tts_start_streaming"):
            listener = asyncio.create_task(listen())
        elif event["type"] == "intent-end":
            intent_end_at = time.monotonic()
            assert event["data"]["intent_output"]["response"]["speech"]["plain"]["speech"] == ANSWER
    assert listener is not None, "the pipeline never started streaming to the voice"
    await asyncio.wait_for(listener, 60)
    give_up.cancel()
    assert first_audio_at, "no audio came"
    assert first_audio_at[0] < intent_end_at  # heard while the model was still writing
