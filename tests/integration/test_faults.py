"""What the fault suite (bench/faults.py) found, each as a user meets it in a real Home Assistant.

A model whose tool call runs on without end, a camera slower than the watch asked of it, a camera
that hangs while it is looked through: the turn is still answered, in words, without the
megabytes and within the look's time-out.
"""

from __future__ import annotations

import asyncio
import json

from homeassistant.components import conversation
from homeassistant.core import Context, HomeAssistant
import pytest

from custom_components.anima.core.endpoints import CAMERA, SATELLITE, VISION_MODE
from custom_components.anima.runtime import frames
from tests.fakes.ip_camera import ip_camera
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.integration.anima_setup import (
    add_hub,
    add_openai,
    assist_agent,
    endpoint,
    mjpeg_camera,
    satellite_device,
)

AGENT = "conversation.anima_assistant"
PORCH_SATELLITE = "assist_satellite.porch"


async def _converse(hass: HomeAssistant, text: str, device: str | None = None) -> str:
    result = await conversation.async_converse(
        hass, text, None, Context(), "en", agent_id=AGENT, device_id=device
    )
    return str(result.response.speech["plain"]["speech"])


async def test_a_tool_call_with_giant_arguments_is_not_run_and_the_model_answers_in_words(
    hass: HomeAssistant, openai_server: FakeOpenAIServer
) -> None:
    """300,000 characters of arguments: never run, never sent back (billed) to the model."""
    cloud = await add_openai(hass, openai_server, "Cloud")
    await add_hub(hass, assist_agent(cloud.entry_id))
    openai_server.reply(
        Reply.tool_call("HassTurnOn", {"name": "kitchen " * 40_000}),
        Reply.text("The kitchen light is on."),
    )
    assert await _converse(hass, "Turn on the kitchen light") == "The kitchen light is on."
    chats = [r for r in openai_server.requests if r.path.endswith("/chat/completions")]
    assert max(len(json.dumps(chat.json)) for chat in chats) < 64 * 1024
    assert not chats[-1].json.get("tools")  # asked again, in words


# --- cameras that are slow or hang ------------------------------------------------------------


async def _porch(hass: HomeAssistant, server: FakeOpenAIServer, url: str, mode: str) -> str:
    """camera.porch (Home Assistant's MJPEG IP camera on `url`), the porch satellite's endpoint
    with it in vision `mode`, an agent with the Assist API; the satellite's device."""
    camera = await mjpeg_camera(hass, url)
    cloud = await add_openai(hass, server, "Cloud", preset="openai")
    device = satellite_device(hass, "Porch")
    await add_hub(
        hass,
        assist_agent(cloud.entry_id),
        endpoint(
            "Porch", device, **{CAMERA: camera, VISION_MODE: mode, SATELLITE: PORCH_SATELLITE}
        ),
    )
    return device


async def test_watching_a_camera_slower_than_its_pace_ends_with_the_seconds_asked(
    hass: HomeAssistant, openai_server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three seconds at two frames a second, from a camera taking 1.2 s a frame: the frames
    taken in those three seconds, not six frames (7.2 s) because six were planned."""
    monkeypatch.setattr(frames, "CAMERA_TIMEOUT", 2)
    async with ip_camera(delay=1.2) as (url, asked):
        device = await _porch(hass, openai_server, url, "on_demand")
        watch = {"question": "Did anyone come to the door?", "seconds": 3}
        openai_server.reply(
            Reply.tool_call("anima__watch", watch),
            Reply.text("Nobody came."),  # the vision model, about the frames
            Reply.text("Nobody came to the door."),
        )
        said = await _converse(hass, "Did anyone come to the door?", device)
    assert said == "Nobody came to the door."
    assert len(asked) <= 4


async def test_a_camera_that_timed_out_for_the_question_is_not_asked_again(
    hass: HomeAssistant, openai_server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Eager vision: the frame taken when the satellite began listening never came; the turn
    is answered without it after that one time-out, not after a second one."""
    monkeypatch.setattr(frames, "CAMERA_TIMEOUT", 0.5)
    async with ip_camera(delay=60) as (url, asked):
        device = await _porch(hass, openai_server, url, "eager")
        hass.states.async_set(PORCH_SATELLITE, "listening")
        async with asyncio.timeout(5):
            while not asked:  # the frame for the question is being taken
                await asyncio.sleep(0.02)
        openai_server.reply(Reply.text("I cannot see the porch right now."))
        said = await _converse(hass, "What do you see on the porch?", device)
    assert said == "I cannot see the porch right now."
    assert len(asked) == 1
