"""Endpoints working together, inside the test `hass`: which tools an agent is offered, what a
refused or unknown endpoint sounds like to the model, and one answer per room.

The spoken flows (announce, ask an endpoint, ask its agent, hand over, follow-ups, one wake word
on two satellites) run against a real Home Assistant process in tests/e2e/test_coordination.py.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from pathlib import Path
from types import MappingProxyType
from typing import Any

from homeassistant.components import conversation
from homeassistant.config_entries import ConfigEntryState, ConfigSubentry
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr, entity_registry as er, llm
import pytest
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from anima_satellite.satellite import SatelliteSettings
from anima_satellite.wake import LocalWakeWord
from custom_components.anima.const import DOMAIN
from custom_components.anima.core.endpoints import (
    AGENT as AGENT_OF_ENDPOINT,
    AREA,
    DEVICE,
    SATELLITE as SATELLITE_OF_ENDPOINT,
    SERVICE,
    SERVICE_KEY,
    Permission,
)
from custom_components.anima.core.profiles import (
    LLM_HASS_API,
    PROFILE_AGENT,
    PROFILE_ENDPOINT,
    Link,
)
from custom_components.anima.protocol import new_key
from scripts.hassctl import free_port
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.fixtures.speech_servers import SpeechServer
from tests.fixtures.spoken import spoken
from tests.integration.anima_setup import add_hub, add_openai, endpoint, profile, satellite_device
from tests.integration.satellites import adopted, anima_with_pipeline, bind, satellite_of, words
from tests.integration.typed import converse

AGENT = "conversation.anima_assistant"


def _tools(request: Any) -> set[str]:
    return {tool["function"]["name"] for tool in request.json.get("tools") or []}


async def test_tools_are_offered_where_they_work_and_refusals_are_sentences(
    hass: HomeAssistant, tmp_path: Path, openai_server: FakeOpenAIServer
) -> None:
    cloud = await add_openai(hass, openai_server, "Cloud")
    kitchen = satellite_device(hass, "Kitchen")  # the asker: typed, from its device
    hub = await add_hub(
        hass,
        profile(
            PROFILE_AGENT,
            "Assistant",
            [Link(cloud.entry_id, "gpt-4.1-mini")],
            **{LLM_HASS_API: ["assist"]},
        ),
        endpoint("Kitchen", kitchen),
    )

    async def converse(text: str) -> None:
        await conversation.async_converse(
            hass, text, None, Context(), "en", agent_id=AGENT, device_id=kitchen
        )

    openai_server.reply(Reply.text("Nobody else is here."))
    await converse("Who else is there?")
    assert not {t for t in _tools(openai_server.requests[-1]) if t.startswith("anima__")}

    quiet = asyncio.Event()  # the satellites wait for their wake word, which never comes
    mic = spoken(tmp_path, "unused")
    async with AsyncExitStack() as stack:
        for name in ("Office", "Hall"):
            settings = SatelliteSettings(
                name=name, mic_file=mic, speak_when=quiet, wake_word=LocalWakeWord.load("okay_nabu")
            )
            device = await stack.enter_async_context(adopted(hass, settings, wait_played=False))
            extra = {Permission.ANNOUNCE.value: False} if name == "Office" else {}
            bind(hass, hub, name, device, **extra)
        await hass.async_block_till_done()
        openai_server.reply(
            Reply.tool_calls(
                [
                    ("anima__announce", {"endpoint": "office", "message": "Hello."}),
                    ("anima__announce", {"endpoint": "garage", "message": "Hello."}),
                ]
            ),
            Reply.text("I couldn't."),
        )
        await converse("Say hello in the office and the garage.")
        first, second = openai_server.requests[-2:]
        # Others can speak now: announce and ask their agents; nobody can listen on request.
        assert {"anima__announce", "anima__ask_agent"} <= _tools(first)
        assert not {"anima__ask_endpoint", "anima__handoff"} & _tools(first)
        results = [m["content"] for m in second.json["messages"] if m["role"] == "tool"]
        assert any("Office doesn't take announcements from other devices" in r for r in results)
        assert any("I don't know a device or room called garage" in r for r in results)


async def test_with_the_hub_removed_an_assist_agent_is_offered_no_anima_tools(
    hass: HomeAssistant, openai_server: FakeOpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The connections stay (Anima stays loaded); any Assist agent still asks it for tools."""
    cloud = await add_openai(hass, openai_server, "Cloud")
    kitchen, hall = satellite_device(hass, "Kitchen"), satellite_device(hass, "Hall", port=10800)
    agent = profile(PROFILE_AGENT, "Assistant", [Link(cloud.entry_id, "gpt-4.1-mini")])
    hub = await add_hub(hass, agent, endpoint("Kitchen", kitchen), endpoint("Hall", hall))
    context = llm.LLMContext(
        platform="test",
        context=None,
        language="en",
        assistant=conversation.DOMAIN,
        device_id=kitchen,
    )

    async def anima_tools() -> set[str]:
        api = await llm.async_get_api(hass, llm.LLM_API_ASSIST, context)
        return {tool.name for tool in api.tools if tool.name.startswith("anima__")}

    assert "anima__ask_agent" in await anima_tools()  # the hall's agent can be asked
    assert await hass.config_entries.async_remove(hub.entry_id)
    await hass.async_block_till_done()
    assert await anima_tools() == set()
    assert cloud.state is ConfigEntryState.LOADED
    assert "Error getting tools" not in caplog.text


async def test_two_satellites_of_one_room_hearing_one_question_give_one_answer(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    tmp_path: Path,
    openai_server: FakeOpenAIServer,
    piper_server: SpeechServer,
    whisper_server: SpeechServer,
) -> None:
    """Satellites that report no wake word (Home Assistant deduplicates only those that do)."""
    hub = await anima_with_pipeline(
        hass, hass_ws_client, openai_server, piper_server, whisper_server
    )
    openai_server.reply(Reply.text("It is noon."), Reply.text("It is noon, says the other."))
    speak = asyncio.Event()
    mic = spoken(tmp_path, "What time is it?")
    satellites = [
        SatelliteSettings(name=name, mic_file=mic, speak_when=speak, played=[])
        for name in ("Fridge", "Oven")
    ]
    async with AsyncExitStack() as stack:
        devices = [
            await stack.enter_async_context(adopted(hass, settings, wait_played=False))
            for settings in satellites
        ]
        for settings, device in zip(satellites, devices, strict=True):
            bind(hass, hub, settings.name, device, **{AREA: "kitchen"})
        await hass.async_block_till_done()
        for device in devices:  # both start listening again, now as endpoints of the kitchen
            wyoming = dr.async_get(hass).async_get(device)
            assert wyoming is not None
            await hass.config_entries.async_reload(wyoming.config_entry_id or "")
        await hass.async_block_till_done()
        speak.set()
        async with asyncio.timeout(90):
            while not any(s.played for s in satellites):
                await asyncio.sleep(0.1)
            while any(hass.states.get(satellite_of(hass, d)).state != "idle" for d in devices):  # type: ignore[union-attr]
                await asyncio.sleep(0.1)
    chats = [r for r in openai_server.requests if r.path.endswith("/chat/completions")]
    assert len(chats) == 1  # the agent answered one of them
    assert "time is it" in words(chats[0].json["messages"][-1]["content"])
    assert sorted(len(s.played) for s in satellites) == [0, 1]  # one spoke, the other stayed quiet


def _satellite_entity(hass: HomeAssistant, device: str) -> str:
    """The assist_satellite entity registered for a typed satellite's device (not loaded)."""
    (entity,) = er.async_entries_for_device(er.async_get(hass), device)
    return entity.entity_id


async def test_an_agent_asks_the_agent_of_another_endpoint_and_hears_its_answer(
    hass: HomeAssistant, openai_server: FakeOpenAIServer
) -> None:
    """The garage's own agent profile answers (its model), not the kitchen's."""
    cloud = await add_openai(hass, openai_server, "Cloud")
    kitchen, garage = satellite_device(hass, "Kitchen"), satellite_device(hass, "Garage", 10701)
    hub = await add_hub(
        hass,
        profile(
            PROFILE_AGENT,
            "Assistant",
            [Link(cloud.entry_id, "gpt-4.1-mini")],
            **{LLM_HASS_API: ["assist"]},
        ),
        profile(PROFILE_AGENT, "Garage", [Link(cloud.entry_id, "gpt-4o-mini")]),
        endpoint("Kitchen", kitchen),
    )
    garage_agent = next(s.subentry_id for s in hub.subentries.values() if s.title == "Garage")
    hass.config_entries.async_add_subentry(
        hub,
        ConfigSubentry(
            data=MappingProxyType({DEVICE: garage, AGENT_OF_ENDPOINT: garage_agent}),
            subentry_type=PROFILE_ENDPOINT,
            title="Garage",
            unique_id=None,
        ),
    )
    await hass.async_block_till_done()
    openai_server.reply(
        Reply.tool_call("anima__ask_agent", {"endpoint": "garage", "question": "Is the car in?"}),
        Reply.text("Yes, the car is in the garage."),
        Reply.text("The garage says the car is in."),
    )
    result = await conversation.async_converse(
        hass, "Is the car in the garage?", None, Context(), "en", agent_id=AGENT, device_id=kitchen
    )
    assert result.response.speech["plain"]["speech"] == "The garage says the car is in."
    asked, garage_turn, answered = [
        r for r in openai_server.requests if r.path.endswith("/chat/completions")
    ]
    assert (asked.json["model"], garage_turn.json["model"]) == ("gpt-4.1-mini", "gpt-4o-mini")
    assert garage_turn.json["messages"][-1]["content"] == "Is the car in?"
    (result_message,) = [m for m in answered.json["messages"] if m["role"] == "tool"]
    assert "Yes, the car is in the garage." in result_message["content"]


async def test_what_an_endpoint_cannot_do_is_refused_in_a_sentence(
    hass: HomeAssistant, openai_server: FakeOpenAIServer
) -> None:
    """A satellite that is not loaded cannot speak; one without a service cannot listen; no
    agent profile, no agent to ask."""
    kitchen = satellite_device(hass, "Kitchen")
    hall = satellite_device(hass, "Hall", 10701)
    hub = await add_hub(
        hass,
        endpoint("Kitchen", kitchen),
        endpoint(
            "Hall",
            hall,
            **{
                SATELLITE_OF_ENDPOINT: _satellite_entity(hass, hall),
                SERVICE: f"127.0.0.1:{free_port()}",
                SERVICE_KEY: new_key(),
            },
        ),
    )
    assert hub.state is ConfigEntryState.LOADED
    for action, data, message in (
        ("announce", {"device_id": kitchen, "message": "Hi."}, "Kitchen cannot say anything"),
        ("handoff", {"device_id": kitchen}, "Kitchen cannot listen without its wake word"),
        ("ask_endpoint", {"device_id": kitchen, "question": "Tea?"}, "Kitchen cannot listen"),
        # It could listen (a service and a satellite), but cannot ask: it cannot say a thing.
        ("ask_endpoint", {"device_id": hall, "question": "Tea?"}, "Hall cannot say anything"),
        ("ask_agent", {"device_id": kitchen, "question": "Hi?"}, "There is no agent to answer"),
    ):
        with pytest.raises(HomeAssistantError, match=message):
            await hass.services.async_call(
                DOMAIN, action, data, blocking=True, return_response=True
            )


async def test_a_follow_up_the_endpoint_cannot_hear_is_one_log_line(
    hass: HomeAssistant, openai_server: FakeOpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The answer is a question: the hub has the satellite listen again; its service is down."""
    cloud = await add_openai(hass, openai_server, "Cloud")
    kitchen = satellite_device(hass, "Kitchen")
    await add_hub(
        hass,
        profile(PROFILE_AGENT, "Assistant", [Link(cloud.entry_id, "gpt-4.1-mini")]),
        endpoint(
            "Kitchen",
            kitchen,
            **{
                SATELLITE_OF_ENDPOINT: _satellite_entity(hass, kitchen),
                SERVICE: f"127.0.0.1:{free_port()}",
                SERVICE_KEY: new_key(),
            },
        ),
    )
    openai_server.reply(Reply.text("Do you want tea?"))
    await converse(hass, "I am thirsty.", kitchen)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert "Kitchen did not hear a reply: I didn't hear an answer at Kitchen" in caplog.text
    assert "Traceback" not in caplog.text
