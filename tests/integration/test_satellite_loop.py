"""Anima's satellite, adopted by Home Assistant's own Wyoming integration, asks a question out
loud and hears the answer: everything real but the cloud LLM.

The satellite's microphone is an espeak-ng recording; Whisper (Anima's listener) hears it, the
agent answers through the protocol-faithful fake OpenAI service, Piper (Anima's voice) speaks,
and the satellite receives the reply audio, which Whisper then transcribes again.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
import re
import subprocess
import wave

from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from anima_satellite.satellite import SatelliteSettings, serve
from custom_components.anima.const import DOMAIN
from custom_components.anima.profiles import PROFILE_AGENT, PROFILE_LISTENER, PROFILE_VOICE, Link
from custom_components.anima.providers.audio import convert
from custom_components.anima.providers.base import AudioFormat
from custom_components.anima.providers.wyoming import WyomingClient
from scripts.hassctl import free_port
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.fixtures.speech_servers import SpeechServer
from tests.integration.anima_setup import add_hub, add_openai, add_wyoming, profile

QUESTION = "What is the capital of France?"
ANSWER = "Paris is the capital of France."


def _words(text: str) -> str:
    return " ".join(re.findall(r"[a-z']+", text.lower()))


def _spoken_question(path: Path) -> Path:
    """espeak-ng says the question; 16 kHz 16-bit mono, as a satellite's microphone gives."""
    raw = path / "raw.wav"
    subprocess.run(["espeak-ng", "-w", str(raw), QUESTION], check=True)
    with wave.open(str(raw), "rb") as reader:
        source = AudioFormat(reader.getframerate(), reader.getsampwidth(), reader.getnchannels())
        pcm = convert(reader.readframes(reader.getnframes()), source, AudioFormat(16000))
    mic = path / "question.wav"
    with wave.open(str(mic), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(16000)
        writer.writeframes(pcm)
    return mic


async def test_a_question_asked_to_the_satellite_is_answered_on_its_speaker(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    tmp_path: Path,
    openai_server: FakeOpenAIServer,
    piper_server: SpeechServer,
    whisper_server: SpeechServer,
) -> None:
    # Anima: Whisper listens, the (fake) cloud LLM answers, Piper speaks.
    whisper = await add_wyoming(hass, whisper_server, "Whisper")
    piper = await add_wyoming(hass, piper_server, "Piper")
    cloud = await add_openai(hass, openai_server, "Cloud")
    await add_hub(
        hass,
        profile(PROFILE_LISTENER, "Listener", [Link(whisper.entry_id)]),
        profile(PROFILE_AGENT, "Assistant", [Link(cloud.entry_id, "gpt-4.1-mini")]),
        profile(PROFILE_VOICE, "Voice", [Link(piper.entry_id, voice="en_US-joe-medium")]),
    )
    assert await async_setup_component(hass, "assist_pipeline", {})
    # Before the websocket starts the HTTP server: it registers views of its own.
    assert await async_setup_component(hass, "assist_satellite", {})
    ws = await hass_ws_client(hass)
    await ws.send_json_auto_id(
        {
            "type": "assist_pipeline/pipeline/create",
            "name": "Anima",
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
    pipeline = (await ws.receive_json())["result"]["id"]
    await ws.send_json_auto_id(
        {"type": "assist_pipeline/pipeline/set_preferred", "pipeline_id": pipeline}
    )
    assert (await ws.receive_json())["success"]
    openai_server.reply(Reply.text(ANSWER))

    # The satellite, adopted the normal way: a Wyoming config entry for its address.
    port = free_port()
    settings = SatelliteSettings(name="Kitchen", mic_file=_spoken_question(tmp_path))
    satellite = hass.async_create_background_task(
        serve(f"tcp://127.0.0.1:{port}", settings), "anima satellite"
    )
    await asyncio.sleep(0.2)
    wyoming = MockConfigEntry(domain="wyoming", data={"host": "127.0.0.1", "port": port})
    wyoming.add_to_hass(hass)
    try:
        assert await hass.config_entries.async_setup(wyoming.entry_id)
        await hass.async_block_till_done()
        adopted = [
            e.entity_id
            for e in er.async_entries_for_config_entry(er.async_get(hass), wyoming.entry_id)
            if e.domain == "assist_satellite"
        ]
        assert len(adopted) == 1
        async with asyncio.timeout(90):
            while not settings.played:
                await asyncio.sleep(0.1)
    finally:
        await hass.config_entries.async_unload(wyoming.entry_id)
        satellite.cancel()

    heard = openai_server.requests[-1].json["messages"][-1]["content"]
    assert "capital of france" in _words(heard)
    rate, width, channels, pcm = settings.played[0]
    assert (width, channels) == (2, 1)
    reply = AudioFormat(rate, width, channels)
    assert reply.seconds(len(pcm)) > 1.0
    client = WyomingClient(whisper_server.host, whisper_server.port, timeout=30)

    async def chunks() -> object:
        yield pcm

    transcript = await client.transcribe(chunks(), reply, language="en")  # type: ignore[arg-type]
    assert "paris" in _words(transcript.text)
    # Anima offers the newly adopted satellite as an endpoint.
    offers = [i for (d, i) in ir.async_get(hass).issues if d == DOMAIN and "new_satellite" in i]
    assert len(offers) == 1
