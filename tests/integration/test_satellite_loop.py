"""Anima's satellite, adopted by Home Assistant's own Wyoming integration, asks a question out
loud and hears the answer: everything real but the cloud LLM.

The satellite's microphone is an espeak-ng recording; Whisper (Anima's listener) hears it, the
agent answers through the protocol-faithful fake OpenAI service, Piper (Anima's voice) speaks,
and the satellite receives the reply audio, which Whisper then transcribes again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
import re
from types import MappingProxyType

from homeassistant.config_entries import ConfigSubentry
from homeassistant.const import CONF_FILE_PATH, CONF_NAME
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.setup import async_setup_component
from PIL import Image
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from anima_satellite.satellite import SatelliteSettings, serve
from anima_satellite.wake import LocalWakeWord
from custom_components.anima.const import DOMAIN
from custom_components.anima.core.endpoints import CAMERA, DEVICE, VISION_MODE
from custom_components.anima.core.profiles import (
    PROFILE_AGENT,
    PROFILE_ENDPOINT,
    PROFILE_LISTENER,
    PROFILE_VOICE,
    Link,
)
from custom_components.anima.providers.base import AudioFormat
from custom_components.anima.providers.wyoming import WyomingClient
from scripts.hassctl import free_port
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.fixtures.speech_servers import SpeechServer
from tests.fixtures.spoken import spoken
from tests.integration.anima_setup import (
    add_hub,
    add_openai,
    add_wyoming,
    anima_pipeline,
    profile,
)

QUESTION = "What is the capital of France?"
ANSWER = "Paris is the capital of France."


def _words(text: str) -> str:
    return " ".join(re.findall(r"[a-z']+", text.lower()))


async def _anima_with_pipeline(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    openai_server: FakeOpenAIServer,
    piper_server: SpeechServer,
    whisper_server: SpeechServer,
) -> MockConfigEntry:
    """Anima (Whisper listens, the fake cloud LLM answers, Piper speaks) as the preferred
    pipeline; returns the hub."""
    whisper = await add_wyoming(hass, whisper_server, "Whisper")
    piper = await add_wyoming(hass, piper_server, "Piper")
    cloud = await add_openai(hass, openai_server, "Cloud")
    hub = await add_hub(
        hass,
        profile(PROFILE_LISTENER, "Listener", [Link(whisper.entry_id)]),
        profile(PROFILE_AGENT, "Assistant", [Link(cloud.entry_id, "gpt-4.1-mini")]),
        profile(PROFILE_VOICE, "Voice", [Link(piper.entry_id, voice="en_US-joe-medium")]),
    )
    assert await async_setup_component(hass, "assist_pipeline", {})
    # Before the websocket starts the HTTP server: it registers views of its own.
    assert await async_setup_component(hass, "assist_satellite", {})
    ws = await hass_ws_client(hass)
    await ws.send_json_auto_id(anima_pipeline())
    pipeline = (await ws.receive_json())["result"]["id"]
    await ws.send_json_auto_id(
        {"type": "assist_pipeline/pipeline/set_preferred", "pipeline_id": pipeline}
    )
    assert (await ws.receive_json())["success"]
    return hub


@asynccontextmanager
async def _adopted(hass: HomeAssistant, settings: SatelliteSettings) -> AsyncIterator[str]:
    """Run the satellite and adopt it the normal way (a Wyoming entry); its device id."""
    port = free_port()
    satellite = hass.async_create_background_task(
        serve(f"tcp://127.0.0.1:{port}", settings), "anima satellite"
    )
    await asyncio.sleep(0.2)
    wyoming = MockConfigEntry(domain="wyoming", data={"host": "127.0.0.1", "port": port})
    wyoming.add_to_hass(hass)
    try:
        assert await hass.config_entries.async_setup(wyoming.entry_id)
        await hass.async_block_till_done()
        (adopted,) = [
            e
            for e in er.async_entries_for_config_entry(er.async_get(hass), wyoming.entry_id)
            if e.domain == "assist_satellite"
        ]
        assert adopted.device_id is not None
        yield adopted.device_id
        async with asyncio.timeout(90):
            while not settings.played:
                await asyncio.sleep(0.1)
    finally:
        await hass.config_entries.async_unload(wyoming.entry_id)
        satellite.cancel()


async def _transcribe(whisper: SpeechServer, played: tuple[int, int, int, bytes]) -> str:
    rate, width, channels, pcm = played
    client = WyomingClient(whisper.host, whisper.port, timeout=30)

    async def chunks() -> AsyncIterator[bytes]:
        yield pcm

    return _words(
        (await client.transcribe(chunks(), AudioFormat(rate, width, channels), language="en")).text
    )


async def test_a_question_asked_to_the_satellite_is_answered_on_its_speaker(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    tmp_path: Path,
    openai_server: FakeOpenAIServer,
    piper_server: SpeechServer,
    whisper_server: SpeechServer,
) -> None:
    await _anima_with_pipeline(hass, hass_ws_client, openai_server, piper_server, whisper_server)
    openai_server.reply(Reply.text(ANSWER))
    settings = SatelliteSettings(name="Kitchen", mic_file=spoken(tmp_path, QUESTION), played=[])
    async with _adopted(hass, settings):
        pass
    heard = openai_server.requests[-1].json["messages"][-1]["content"]
    assert "capital of france" in _words(heard)
    rate, width, channels, pcm = settings.played[0]
    assert AudioFormat(rate, width, channels).seconds(len(pcm)) > 1.0
    assert "capital of france" in await _transcribe(whisper_server, settings.played[0])
    # Anima offers the newly adopted satellite as an endpoint.
    offers = [i for (d, i) in ir.async_get(hass).issues if d == DOMAIN and "new_satellite" in i]
    assert len(offers) == 1


async def test_a_local_wake_word_wakes_the_satellite_and_only_the_question_is_heard(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    tmp_path: Path,
    openai_server: FakeOpenAIServer,
    piper_server: SpeechServer,
    whisper_server: SpeechServer,
) -> None:
    await _anima_with_pipeline(hass, hass_ws_client, openai_server, piper_server, whisper_server)
    openai_server.reply(Reply.text(ANSWER))
    settings = SatelliteSettings(
        name="Kitchen",
        mic_file=spoken(tmp_path, "okay nabu", QUESTION),
        wake_word=LocalWakeWord.load("okay_nabu"),
        played=[],
    )
    async with _adopted(hass, settings):
        pass
    heard = _words(openai_server.requests[-1].json["messages"][-1]["content"])
    assert "capital of france" in heard
    assert "nabu" not in heard  # the wake word stayed on the board
    assert "capital of france" in await _transcribe(whisper_server, settings.played[0])


async def test_a_camera_question_to_the_satellite_sends_its_cameras_frame(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    tmp_path: Path,
    openai_server: FakeOpenAIServer,
    piper_server: SpeechServer,
    whisper_server: SpeechServer,
) -> None:
    """Eager vision through a real satellite: the frame its camera produced goes along."""
    image = tmp_path / "kitchen.jpg"
    Image.new("RGB", (1280, 720), (30, 160, 60)).save(image, "JPEG")
    camera = MockConfigEntry(
        domain="local_file", options={CONF_NAME: "Kitchen", CONF_FILE_PATH: str(image)}
    )
    camera.add_to_hass(hass)
    assert await hass.config_entries.async_setup(camera.entry_id)
    hub = await _anima_with_pipeline(
        hass, hass_ws_client, openai_server, piper_server, whisper_server
    )
    openai_server.reply(Reply.text("I see a green wall."))
    ask = asyncio.Event()
    settings = SatelliteSettings(
        name="Kitchen", mic_file=spoken(tmp_path, "What do you see?"), speak_when=ask, played=[]
    )
    async with _adopted(hass, settings) as device_id:
        hass.config_entries.async_add_subentry(  # bound as an endpoint with its camera
            hub,
            ConfigSubentry(
                data=MappingProxyType(
                    {DEVICE: device_id, CAMERA: "camera.kitchen", VISION_MODE: "eager"}
                ),
                subentry_type=PROFILE_ENDPOINT,
                title="Kitchen",
                unique_id=None,
            ),
        )
        await hass.async_block_till_done()
        ask.set()
    chats = [r for r in openai_server.requests if r.path.endswith("/chat/completions")]
    (asked,) = chats  # one model call: the frame went with the question
    assert "see" in _words(str(asked.json["messages"][-1]["content"]))
    (frame,) = asked.images
    assert (frame.width, frame.height) == (512, 288)  # the camera's 1280x720, for gpt-4.1-mini
    assert "green wall" in await _transcribe(whisper_server, settings.played[0])
