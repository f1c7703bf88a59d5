"""The whole voice loop in a real Home Assistant 2026.11: Anima's satellite, adopted by Home
Assistant's Wyoming integration, with real Whisper and Piper; only the cloud LLM is the
protocol-faithful fake. Everything is configured over REST and the websocket, as a user would."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from PIL import Image
import pytest
import pytest_asyncio

from anima_satellite.satellite import SatelliteSettings, serve
from custom_components.anima.core.speech.earcons import earcon_pcm
from scripts.hassctl import HassProcess, free_port, select_options
from tests.e2e.test_smoke import wait_for_state
from tests.e2e.voice_setup import setup_anima_voice
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.fixtures.spoken import spoken
from tests.integration.satellites import transcribe, words

KITCHEN_LIGHT = """
input_boolean:
  kitchen_power:
template:
  - light:
      - name: Kitchen light
        state: "{{ is_state('input_boolean.kitchen_power', 'on') }}"
        turn_on:
          action: input_boolean.turn_on
          target: {entity_id: input_boolean.kitchen_power}
        turn_off:
          action: input_boolean.turn_off
          target: {entity_id: input_boolean.kitchen_power}
"""


@pytest_asyncio.fixture
async def voice_hass(
    tmp_path: Path, openai_server: FakeOpenAIServer, piper_server: Any, whisper_server: Any
) -> AsyncIterator[HassProcess]:
    """A real hass with a kitchen light, Anima's listener, agent and voice as its pipeline."""
    hass = HassProcess(
        tmp_path / "config", port=free_port(), extra_config=KITCHEN_LIGHT, start_timeout=240
    )
    async with hass:
        await setup_anima_voice(hass, openai_server, piper_server, whisper_server)
        yield hass


@asynccontextmanager
async def _satellite_asks(hass: HassProcess, settings: SatelliteSettings) -> AsyncIterator[str]:
    """Run the satellite; Home Assistant adopts it (the Wyoming flow) and it asks its question.

    Yields the Wyoming entry's id once adopted; waits for the reply audio on leaving.
    """
    port = free_port()
    task = asyncio.create_task(serve(f"tcp://127.0.0.1:{port}", settings))
    await asyncio.sleep(0.2)
    try:
        yield await adopt_satellite(hass, port)
        async with asyncio.timeout(120):
            while not settings.played:
                await asyncio.sleep(0.1)
    finally:
        task.cancel()


async def adopt_satellite(hass: HassProcess, port: int) -> str:
    """Add the satellite at 127.0.0.1:`port` with the Wyoming flow; return the entry's id."""
    adopted = await hass.config_flow("wyoming", [{"host": "127.0.0.1", "port": port}])
    assert adopted["type"] == "create_entry", adopted
    return str(adopted["result"]["entry_id"])


async def bind_endpoint(hass: HassProcess, wyoming_entry: str, **fields: Any) -> dict[str, Any]:
    """Bind the satellite of `wyoming_entry` as an endpoint of the hub; return its device."""
    devices = await hass.websocket({"type": "config/device_registry/list"})
    (device,) = [d for d in devices if d.get("primary_config_entry") == wyoming_entry]
    hub = next(e for e in await hass.entries("anima") if e["title"] == "Anima")
    bound = await hass.subentry_flow(
        hub["entry_id"],
        "endpoint",
        lambda form: {  # an endpoint needs an agent or a voice: the hub's agent, unless given
            "device_id": device["id"],
            "agent": select_options(form, "agent")[0][0],
            **fields,
        },
    )
    assert bound["type"] == "create_entry", bound
    await wait_for_state(hass, hub["entry_id"], "loaded")
    return dict(device)


async def test_a_question_is_answered_out_loud(
    voice_hass: HassProcess, tmp_path: Path, openai_server: FakeOpenAIServer, whisper_server: Any
) -> None:
    openai_server.reply(Reply.text("Paris is the capital of France."))
    mic = spoken(tmp_path, "What is the capital of France?")
    sat = SatelliteSettings(name="Hall", mic_file=mic, played=[])
    async with _satellite_asks(voice_hass, sat):
        pass
    chats = [r for r in openai_server.requests if r.path.endswith("/chat/completions")]
    assert "capital of france" in words(chats[-1].json["messages"][-1]["content"])
    assert "capital of france" in await transcribe(
        whisper_server, sat.played[0]
    )  # the answer, spoken


async def test_turn_on_the_kitchen_light_is_done_and_confirmed_with_an_earcon(
    voice_hass: HassProcess, tmp_path: Path, openai_server: FakeOpenAIServer
) -> None:
    openai_server.reply(
        Reply.tool_call("intent__HassTurnOn", {"name": "Kitchen light"}),
        Reply.text("Turned on the kitchen light."),
    )
    mic = spoken(tmp_path, "Turn on the kitchen light.")
    sat = SatelliteSettings(name="Kitchen", mic_file=mic, played=[])
    async with _satellite_asks(voice_hass, sat):
        pass
    light = await voice_hass.request("GET", "/api/states/light.kitchen_light")
    assert light["state"] == "on"
    rate, _, _, pcm = sat.played[0]
    # A confirmation: the voice policy's earcon, not words.
    assert (rate, pcm) == (22050, earcon_pcm("confirm"))


async def test_a_camera_question_sends_the_endpoint_cameras_frame(
    voice_hass: HassProcess, tmp_path: Path, openai_server: FakeOpenAIServer
) -> None:
    image = tmp_path / "porch.jpg"
    Image.new("RGB", (1280, 720), (40, 40, 200)).save(image, "JPEG")
    camera = await voice_hass.config_flow(
        "local_file",
        [{"file_path": str(image)}],  # the camera is named after the file
    )
    assert camera["type"] == "create_entry", camera
    openai_server.reply(Reply.text("I see a blue wall."))
    ask = asyncio.Event()
    mic = spoken(tmp_path, "What do you see?")
    sat = SatelliteSettings(name="Porch", mic_file=mic, speak_when=ask, played=[])
    async with _satellite_asks(voice_hass, sat) as wyoming_entry:
        await bind_endpoint(voice_hass, wyoming_entry, camera="camera.porch", vision_mode="eager")
        ask.set()
    chats = [r for r in openai_server.requests if r.path.endswith("/chat/completions")]
    (frame,) = chats[-1].images  # one call, with the porch camera's frame
    assert (frame.width, frame.height) == (512, 288)


async def test_an_announcement_plays_on_the_satellite(
    voice_hass: HassProcess, tmp_path: Path, whisper_server: Any
) -> None:
    silent = asyncio.Event()  # the microphone never speaks: only the announcement plays
    mic = spoken(tmp_path, "unused")
    sat = SatelliteSettings(name="Study", mic_file=mic, speak_when=silent, played=[])
    async with _satellite_asks(voice_hass, sat):
        states = await voice_hass.request("GET", "/api/states")
        satellite = next(
            s["entity_id"]
            for s in states
            if "study" in s["entity_id"] and s["entity_id"].startswith("assist_satellite.")
        )
        await voice_hass.request(
            "POST",
            "/api/services/assist_satellite/announce",
            {"entity_id": satellite, "message": "Dinner is ready."},
        )
    assert "dinner is ready" in await transcribe(whisper_server, sat.played[0])


pytestmark = pytest.mark.timeout(600)
