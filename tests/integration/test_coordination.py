"""Endpoints working together, inside the test `hass`: which tools an agent is offered, what a
refused or unknown endpoint sounds like to the model, and one answer per room.

The spoken flows (announce, ask an endpoint, ask its agent, hand over, follow-ups, one wake word
on two satellites) run against a real Home Assistant process in tests/e2e/test_coordination.py.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from homeassistant.components import conversation
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import Context, HomeAssistant
from homeassistant.helpers import device_registry as dr, llm
import pytest
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from anima_satellite.satellite import SatelliteSettings
from anima_satellite.wake import LocalWakeWord
from custom_components.anima.core.endpoints import AREA, Permission
from custom_components.anima.core.profiles import (
    LLM_HASS_API,
    PROFILE_AGENT,
    Link,
)
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.fixtures.speech_servers import SpeechServer
from tests.fixtures.spoken import spoken
from tests.integration.anima_setup import add_hub, add_openai, endpoint, profile, satellite_device
from tests.integration.satellites import adopted, anima_with_pipeline, bind, satellite_of, words

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
