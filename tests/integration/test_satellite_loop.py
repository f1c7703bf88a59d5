"""Anima's satellite, adopted by Home Assistant's own Wyoming integration, asks a question out
loud and hears the answer: everything real but the cloud LLM.

The satellite's microphone is an espeak-ng recording; Whisper (Anima's listener) hears it, the
agent answers through the protocol-faithful fake OpenAI service, Piper (Anima's voice) speaks,
and the satellite receives the reply audio, which Whisper then transcribes again.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import MappingProxyType

from homeassistant.config_entries import ConfigSubentry
from homeassistant.const import CONF_FILE_PATH, CONF_NAME
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from PIL import Image
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from anima_satellite.satellite import SatelliteSettings
from anima_satellite.wake import LocalWakeWord
from custom_components.anima.const import DOMAIN
from custom_components.anima.core.endpoints import CAMERA, DEVICE, VISION_MODE
from custom_components.anima.core.profiles import PROFILE_ENDPOINT
from custom_components.anima.providers.base import AudioFormat
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.fixtures.speech_servers import SpeechServer
from tests.fixtures.spoken import spoken
from tests.integration.satellites import adopted, anima_with_pipeline, transcribe, words

QUESTION = "What is the capital of France?"
ANSWER = "Paris is the capital of France."


async def test_a_question_asked_to_the_satellite_is_answered_on_its_speaker(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    tmp_path: Path,
    openai_server: FakeOpenAIServer,
    piper_server: SpeechServer,
    whisper_server: SpeechServer,
) -> None:
    await anima_with_pipeline(hass, hass_ws_client, openai_server, piper_server, whisper_server)
    openai_server.reply(Reply.text(ANSWER))
    settings = SatelliteSettings(name="Kitchen", mic_file=spoken(tmp_path, QUESTION), played=[])
    async with adopted(hass, settings):
        pass
    heard = openai_server.requests[-1].json["messages"][-1]["content"]
    assert "capital of france" in words(heard)
    rate, width, channels, pcm = settings.played[0]
    assert AudioFormat(rate, width, channels).seconds(len(pcm)) > 1.0
    assert "capital of france" in await transcribe(whisper_server, settings.played[0])
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
    await anima_with_pipeline(hass, hass_ws_client, openai_server, piper_server, whisper_server)
    openai_server.reply(Reply.text(ANSWER))
    settings = SatelliteSettings(
        name="Kitchen",
        mic_file=spoken(tmp_path, "okay nabu", QUESTION),
        wake_word=LocalWakeWord.load("okay_nabu"),
        played=[],
    )
    async with adopted(hass, settings):
        pass
    heard = words(openai_server.requests[-1].json["messages"][-1]["content"])
    assert "capital of france" in heard
    assert "nabu" not in heard  # the wake word stayed on the board
    assert "capital of france" in await transcribe(whisper_server, settings.played[0])


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
    hub = await anima_with_pipeline(
        hass, hass_ws_client, openai_server, piper_server, whisper_server
    )
    openai_server.reply(Reply.text("I see a green wall."))
    ask = asyncio.Event()
    settings = SatelliteSettings(
        name="Kitchen", mic_file=spoken(tmp_path, "What do you see?"), speak_when=ask, played=[]
    )
    async with adopted(hass, settings) as device_id:
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
    assert "see" in words(str(asked.json["messages"][-1]["content"]))
    (frame,) = asked.images
    assert (frame.width, frame.height) == (512, 288)  # the camera's 1280x720, for gpt-4.1-mini
    assert "green wall" in await transcribe(whisper_server, settings.played[0])
