"""Anima's actions (services.py) and its device actions (device_action.py), as automations and
scripts call them: what they answer, what they say on an endpoint, and the sentence a mistake
in a call comes back as. The speaking endpoint is test_satellite_actions.py's Office, a voice
device as ESPHome's with Anima's voice (real Piper); the models are the fake OpenAI-compatible
server. Describing camera frames: test_vision.py; the coordination actions on that device:
test_satellite_actions.py; the device actions' fields in the editor: test_turn_events.py.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from homeassistant.components.assist_pipeline import PipelineEventType
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.setup import async_setup_component
import pytest

from custom_components.anima.const import DOMAIN
from custom_components.anima.core.ledger import Kind
from custom_components.anima.core.profiles import PROFILE_AGENT, PROFILE_VOICE, Link
from custom_components.anima.runtime.data import AnimaData
from custom_components.anima.services import ASK_INSTRUCTIONS
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.fixtures.speech_servers import SpeechServer
from tests.integration import test_satellite_actions as satellite_actions
from tests.integration.anima_setup import add_hub, add_openai, porch_camera, profile
from tests.integration.satellites import words
from tests.integration.test_satellite_actions import Office
from tests.integration.typed import anima_device, typed_kitchen
from tests.integration.voice_device import piper_says


async def _act(hass: HomeAssistant, action: str, **data: Any) -> dict[str, Any]:
    response = await hass.services.async_call(
        DOMAIN, action, data, blocking=True, return_response=True
    )
    assert response is not None
    return dict(response)


def _chats(server: FakeOpenAIServer) -> list[Any]:
    return [r for r in server.requests if r.path.endswith("/chat/completions")]


# --- what a mistaken call is told ------------------------------------------------------------


async def test_describe_needs_a_picture_it_may_read(
    hass: HomeAssistant, openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    await typed_kitchen(hass, openai_server)
    hass.config.allowlist_external_dirs = {str(tmp_path / "allowed")}
    outside = tmp_path / "porch.jpg"
    for data, key, said in (
        ({}, "no_source", "Give a camera or an image file to describe"),
        (
            {"image_file": str(outside)},
            "path_not_allowed",
            f"Home Assistant may not read {outside}; add its folder to allowlist_external_dirs",
        ),
    ):
        with pytest.raises(ServiceValidationError) as refused:
            await _act(hass, "describe", **data)
        assert (refused.value.translation_key, str(refused.value)) == (key, said)
    gone = tmp_path / "allowed" / "porch.jpg"  # allowed, but there is no such file
    with pytest.raises(HomeAssistantError) as failed:
        await _act(hass, "describe", image_file=str(gone))
    assert failed.value.translation_key == "image_not_read"
    assert str(failed.value) == f"I can't read the image file {gone}: No such file or directory"
    assert _chats(openai_server) == []  # no model was asked


async def test_actions_on_endpoints_name_one(
    hass: HomeAssistant, openai_server: FakeOpenAIServer
) -> None:
    hub, _, _ = await typed_kitchen(hass, openai_server)
    with pytest.raises(ServiceValidationError) as refused:
        await _act(hass, "announce", message="Dinner is ready.")
    assert str(refused.value) == "Choose at least one endpoint or area, or all endpoints"
    hub_device = anima_device(hass, hub.entry_id)  # a device of Anima's, but no endpoint
    with pytest.raises(ServiceValidationError) as refused:
        await _act(hass, "ask_agent", device_id=hub_device, question="Anyone home?")
    assert str(refused.value) == f"Device {hub_device} is not an Anima endpoint"
    assert _chats(openai_server) == []


async def test_ask_needs_an_agent_profile(
    hass: HomeAssistant, openai_server: FakeOpenAIServer
) -> None:
    await add_hub(hass, profile(PROFILE_VOICE, "Voice", []))
    with pytest.raises(HomeAssistantError) as failed:
        await _act(hass, "ask", prompt="Is the garage open?")
    assert str(failed.value) == "There is no agent profile to ask. Add one on the Anima hub"


# --- what they answer --------------------------------------------------------------------


async def test_ask_without_cameras_asks_the_first_agent_profile_plainly(
    hass: HomeAssistant, openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    """Its first model reads no images: without cameras that does not matter."""
    await porch_camera(hass, tmp_path)
    cloud = await add_openai(hass, openai_server, "Cloud", preset="openai")
    await add_hub(
        hass,
        profile(PROFILE_AGENT, "Plain", [Link(cloud.entry_id, "deepseek-chat")]),
        profile(PROFILE_AGENT, "Seeing", [Link(cloud.entry_id, "gpt-4.1-mini")]),
    )
    openai_server.reply(Reply.text("Yes, it is open."))
    assert await _act(hass, "ask", prompt="Is the garage open?") == {"response": "Yes, it is open."}
    (chat,) = _chats(openai_server)
    assert chat.json["model"] == "deepseek-chat"
    assert chat.images == []
    assert [m["role"] for m in chat.json["messages"]] == ["system", "user"]
    assert ASK_INSTRUCTIONS in str(chat.json["messages"][0]["content"])
    assert "Is the garage open?" in str(chat.json["messages"][1]["content"])
    (record,) = AnimaData.of(hass).meter.ledger.records()
    assert (record.kind, record.model) == (Kind.CHAT, "deepseek-chat")


async def test_ask_agent_answers_with_the_endpoints_agent(
    hass: HomeAssistant, openai_server: FakeOpenAIServer
) -> None:
    _, kitchen, device = await typed_kitchen(hass, openai_server)
    openai_server.reply(Reply.text("The kettle is on."))
    for named in (device, kitchen):  # Anima's device of the endpoint, or the one it binds
        assert await _act(hass, "ask_agent", device_id=named, question="Is the kettle on?") == {
            "endpoint": "Kitchen",
            "response": "The kettle is on.",
        }
        openai_server.reply(Reply.text("The kettle is on."))
    chats = _chats(openai_server)
    assert len(chats) == 2
    assert all("kettle on" in words(str(c.json["messages"][-1]["content"])) for c in chats)
    booked = [r.endpoint for r in AnimaData.of(hass).meter.ledger.records()]
    assert booked == [kitchen, kitchen]  # the kitchen's turns, on its budget


# --- what they say on an endpoint -----------------------------------------------------------


#: The Office endpoint: a voice device (as ESPHome's) bound with Anima's voice.
office = satellite_actions.office


def _anima_device(hass: HomeAssistant, office: Office) -> str:
    """Anima's device of the Office endpoint (the one its device actions are listed on)."""
    return anima_device(
        hass, next(s.subentry_id for s in office.hub.subentries.values() if s.title == "Office")
    )


async def _spoken(hass: HomeAssistant) -> list[tuple[int, str | None]]:
    """What Anima's voice has been booked for (characters, whose), once all is spoken."""
    await hass.async_block_till_done(wait_background_tasks=True)
    records = AnimaData.of(hass).meter.ledger.records()
    return [(r.characters, r.endpoint) for r in records if r.kind is Kind.TTS]


async def test_ask_says_its_answer_on_the_endpoints_asked(
    hass: HomeAssistant, office: Office, openai_server: FakeOpenAIServer
) -> None:
    openai_server.reply(Reply.text("The garage is closed."))
    response = await _act(
        hass, "ask", prompt="Is the garage open?", speak_on=[_anima_device(hass, office)]
    )
    assert response == {"response": "The garage is closed."}
    (announced,) = office.mic.announced
    assert announced.message == "The garage is closed."
    assert announced.media_id_source == "media_id"  # Anima's voice, not the pipeline's
    assert await _spoken(hass) == [(len("The garage is closed."), office.device)]


async def _script(hass: HomeAssistant, action: dict[str, Any], *, valid: bool = True) -> None:
    """Run a script of one device action of Anima's, as the script editor writes it.

    Not `valid`: only load it (Home Assistant keeps an invalid script, unavailable).
    """
    assert await async_setup_component(
        hass, "script", {"script": {"act": {"sequence": [{"domain": DOMAIN, **action}]}}}
    )
    if valid:
        await hass.services.async_call("script", "act", blocking=True)


@pytest.mark.parametrize(("message_class", "voiced"), [("answer", True), ("confirmation", False)])
async def test_the_announce_device_action_says_the_message_in_the_tier_of_its_class(
    hass: HomeAssistant, office: Office, message_class: str, voiced: bool
) -> None:
    """An answer is spoken by the voice (Piper, booked to the office); a confirmation is an
    earcon, which costs nothing."""
    message = "The washing machine is done."
    await _script(
        hass,
        {
            "device_id": _anima_device(hass, office),
            "type": "announce",
            "message": message,
            "message_class": message_class,
        },
    )
    (announced,) = office.mic.announced
    assert announced.message == message
    assert await _spoken(hass) == ([(len(message), office.device)] if voiced else [])


async def test_the_ask_device_action_hears_the_answer_as_an_answer_to_its_question(
    hass: HomeAssistant, office: Office, piper_server: SpeechServer, openai_server: FakeOpenAIServer
) -> None:
    office.mic.answer = await piper_says(piper_server, "Yes please.")
    openai_server.reply(Reply.text("Closing the blinds."))
    question = "Shall I close the blinds?"
    await _script(
        hass, {"device_id": _anima_device(hass, office), "type": "ask", "question": question}
    )
    (start,) = office.mic.started
    assert start.message == question
    async with asyncio.timeout(90):  # the office heard the answer; the agent answers it
        while PipelineEventType.RUN_END not in office.mic.events:
            await asyncio.sleep(0.1)
    (chat,) = _chats(openai_server)
    said = [(m["role"], words(str(m.get("content") or ""))) for m in chat.json["messages"]]
    assert said[-2:] == [("assistant", "shall i close the blinds"), ("user", "yes please")]


async def test_a_device_action_on_a_device_that_is_no_endpoint_says_so(
    hass: HomeAssistant, openai_server: FakeOpenAIServer
) -> None:
    """A script written by hand may name the hub's device, which has no device actions."""
    hub, _, _ = await typed_kitchen(hass, openai_server)
    hub_device = anima_device(hass, hub.entry_id)
    with pytest.raises(HomeAssistantError) as failed:
        await _script(hass, {"device_id": hub_device, "type": "announce", "message": "Hello."})
    assert str(failed.value) == f"Device {hub_device} is not an Anima endpoint"


@pytest.mark.parametrize(("kind", "needs"), [("announce", "message"), ("ask", "question")])
async def test_a_device_action_without_its_text_is_refused_when_the_script_is_loaded(
    hass: HomeAssistant,
    openai_server: FakeOpenAIServer,
    caplog: pytest.LogCaptureFixture,
    kind: str,
    needs: str,
) -> None:
    """Written by hand, an announcement may lack its message: said when loaded, not when run."""
    _, _, device = await typed_kitchen(hass, openai_server)
    await _script(hass, {"device_id": device, "type": kind}, valid=False)
    state = hass.states.get("script.act")
    assert state is not None
    assert state.state == "unavailable"
    (refusal,) = [r for r in caplog.records if r.levelname == "ERROR"]
    assert f"required key not provided at '{needs}'" in refusal.getMessage()
    assert refusal.exc_info is None  # one line, no traceback
