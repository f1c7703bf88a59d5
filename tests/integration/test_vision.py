"""Looking through endpoint cameras: eager frames, the look and watch tools, permissions, and
the describe and ask actions. The camera is Home Assistant's real local_file camera; the
vision model is the fake OpenAI-compatible server, which records the images it receives."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from homeassistant.components import conversation
from homeassistant.components.homeassistant.exposed_entities import async_expose_entity
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import llm
import pytest

from custom_components.anima.const import DOMAIN
from custom_components.anima.core.endpoints import CAMERA, SHARE_CAMERA, VISION_MODE
from custom_components.anima.core.profiles import LLM_HASS_API, PROFILE_AGENT, Link
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.integration.anima_setup import (
    add_hub,
    add_openai,
    endpoint,
    porch_camera,
    profile,
    satellite_device,
)

AGENT = "conversation.anima_assistant"


async def _setup(
    hass: HomeAssistant, server: FakeOpenAIServer, tmp_path: Path, **kitchen: Any
) -> str:
    """The kitchen satellite (camera.porch as its camera) and an agent; the device id."""
    await porch_camera(hass, tmp_path)
    cloud = await add_openai(hass, server, "OpenAI", preset="openai")
    device = satellite_device(hass, "Kitchen")
    agent = profile(
        PROFILE_AGENT,
        "Assistant",
        [Link(cloud.entry_id, "gpt-4.1-mini")],
        **{LLM_HASS_API: [llm.LLM_API_ASSIST]},
    )
    await add_hub(hass, agent, endpoint("Kitchen", device, **kitchen))
    return device


async def _ask(hass: HomeAssistant, text: str, device: str | None) -> str:
    result = await conversation.async_converse(
        hass, text, None, Context(), "en", agent_id=AGENT, device_id=device
    )
    return str(result.response.speech["plain"]["speech"])


def _chats(server: FakeOpenAIServer) -> list[Any]:
    return [r for r in server.requests if r.path.endswith("/chat/completions")]


async def test_eager_mode_answers_in_one_call_with_the_frame_attached(
    hass: HomeAssistant, openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    device = await _setup(
        hass, openai_server, tmp_path, **{CAMERA: "camera.porch", VISION_MODE: "eager"}
    )
    openai_server.reply(Reply.text("A red wall."))
    assert await _ask(hass, "What do you see?", device) == "A red wall."
    (request,) = _chats(openai_server)  # one model call, no tool round trip
    (image,) = request.images
    assert (image.width, image.height, image.detail) == (512, 384, "low")
    # A question that is not about the camera goes without a picture (images cost tokens).
    openai_server.reply(Reply.text("Paris."))
    await _ask(hass, "What is the capital of France?", device)
    assert _chats(openai_server)[-1].images == []


async def test_on_demand_mode_looks_through_the_tool(
    hass: HomeAssistant, openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    device = await _setup(hass, openai_server, tmp_path, **{CAMERA: "camera.porch"})
    openai_server.reply(
        Reply.tool_call("anima__look", {"question": "What do you see?"}),
        Reply.text("A red wall."),  # the vision model, asked by the tool
        Reply.text("I see a red wall."),
    )
    assert await _ask(hass, "What do you see?", device) == "I see a red wall."
    first, looked, last = _chats(openai_server)
    assert first.images == []
    assert any(tool["function"]["name"] == "anima__look" for tool in first.json["tools"])
    assert len(looked.images) == 1
    assert "tools" not in looked.json
    tool_result = last.json["messages"][-1]
    assert tool_result["role"] == "tool"
    assert "A red wall." in tool_result["content"]


async def test_another_endpoints_camera_needs_its_permission(
    hass: HomeAssistant, openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    await porch_camera(hass, tmp_path)
    cloud = await add_openai(hass, openai_server, "OpenAI", preset="openai")
    kitchen, porch = satellite_device(hass, "Kitchen"), satellite_device(hass, "Porch")
    agent = profile(
        PROFILE_AGENT,
        "Assistant",
        [Link(cloud.entry_id, "gpt-4.1-mini")],
        **{LLM_HASS_API: [llm.LLM_API_ASSIST]},
    )
    hub = await add_hub(
        hass,
        agent,
        endpoint("Kitchen", kitchen),
        endpoint("Porch", porch, **{CAMERA: "camera.porch"}),
    )
    look = Reply.tool_call("anima__look", {"question": "Anyone there?", "area": "Porch"})
    openai_server.reply(look, Reply.text("I may not look there."))
    await _ask(hass, "Is anyone on the porch?", kitchen)
    refused = _chats(openai_server)[-1].json["messages"][-1]["content"]
    assert "not allowed to look through the Porch camera" in refused
    assert all(not r.images for r in _chats(openai_server))

    porch_entry = next(s for s in hub.subentries.values() if s.title == "Porch")
    hass.config_entries.async_update_subentry(
        hub, porch_entry, data={**porch_entry.data, SHARE_CAMERA: True}
    )
    await hass.async_block_till_done()
    openai_server.reply(look, Reply.text("Nobody."), Reply.text("Nobody is there."))
    assert await _ask(hass, "Is anyone on the porch?", kitchen) == "Nobody is there."
    assert len(_chats(openai_server)[-2].images) == 1


async def test_watch_sends_only_the_frames_that_changed(
    hass: HomeAssistant, openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    device = await _setup(hass, openai_server, tmp_path, **{CAMERA: "camera.porch"})
    openai_server.reply(
        Reply.tool_call("anima__watch", {"question": "Did anyone come in?", "seconds": 2}),
        Reply.text("Nothing moved."),
        Reply.text("Nobody came in."),
    )
    assert await _ask(hass, "Watch the porch: did anyone come in?", device) == "Nobody came in."
    _, watched, last = _chats(openai_server)
    assert len(watched.images) == 1  # four frames of a still picture: one is enough
    assert json.loads(last.json["messages"][-1]["content"])["data"]["frames"] == 1


async def test_describe_and_ask_actions_return_text_for_automations(
    hass: HomeAssistant, openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    await _setup(hass, openai_server, tmp_path)
    image = tmp_path / "porch.jpg"
    hass.config.allowlist_external_dirs = {str(tmp_path)}
    openai_server.reply(Reply.text("A red wall."))
    result = await hass.services.async_call(
        DOMAIN, "describe", {"camera": "camera.porch"}, blocking=True, return_response=True
    )
    assert result == {"text": "A red wall."}
    openai_server.reply(Reply.text("Still a red wall."))
    result = await hass.services.async_call(
        DOMAIN, "describe", {"image_file": str(image)}, blocking=True, return_response=True
    )
    assert result == {"text": "Still a red wall."}
    assert _chats(openai_server)[-1].images[0].width == 512

    (tmp_path / "notes.txt").write_text("not a picture")
    with pytest.raises(HomeAssistantError, match="not an image"):
        await hass.services.async_call(
            DOMAIN,
            "describe",
            {"image_file": str(tmp_path / "notes.txt")},
            blocking=True,
            return_response=True,
        )

    openai_server.reply(Reply.text('{"open": false}'))
    result = await hass.services.async_call(
        DOMAIN,
        "ask",
        {"prompt": "Is the garage open? Answer JSON.", "cameras": ["camera.porch"]},
        blocking=True,
        return_response=True,
    )
    assert result == {"response": '{"open": false}'}
    assert len(_chats(openai_server)[-1].images) == 1


@pytest.mark.parametrize(
    ("kitchen", "said"),
    [
        ({}, "This device has no camera I can look through"),
        ({CAMERA: "camera.gone"}, "I can't find a camera called"),
    ],
    ids=["no-camera", "camera-gone"],
)
async def test_looking_problems_come_back_as_sentences_to_say(
    hass: HomeAssistant,
    openai_server: FakeOpenAIServer,
    tmp_path: Path,
    kitchen: dict[str, Any],
    said: str,
) -> None:
    """The porch endpoint shares its camera, so the tools are offered to the kitchen too."""
    await porch_camera(hass, tmp_path)
    cloud = await add_openai(hass, openai_server, "OpenAI", preset="openai")
    device, porch = satellite_device(hass, "Kitchen"), satellite_device(hass, "Porch", 10701)
    agent = profile(
        PROFILE_AGENT,
        "Assistant",
        [Link(cloud.entry_id, "gpt-4.1-mini")],
        **{LLM_HASS_API: [llm.LLM_API_ASSIST]},
    )
    porch_endpoint = endpoint("Porch", porch, **{CAMERA: "camera.porch", SHARE_CAMERA: True})
    await add_hub(hass, agent, endpoint("Kitchen", device, **kitchen), porch_endpoint)
    look = {"question": "What do you see?"}
    if kitchen.get(CAMERA) == "camera.gone":
        look["camera"] = "camera.gone"
    openai_server.reply(Reply.tool_call("anima__look", look), Reply.text("Sorry."))
    assert await _ask(hass, "What do you see?", device) == "Sorry."
    tool_result = _chats(openai_server)[-1].json["messages"][-1]["content"]
    assert said in tool_result


def _tools(request: Any) -> set[str]:
    return {tool["function"]["name"] for tool in request.json.get("tools", [])}


async def test_the_look_tools_are_offered_only_where_a_turn_could_look(
    hass: HomeAssistant, openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    """No camera the asker may use, or no model that sees: no look tools in the prompt."""
    await porch_camera(hass, tmp_path)  # a camera, but not exposed to Assist and no endpoint's
    cloud = await add_openai(hass, openai_server, "OpenAI", preset="openai")
    device = satellite_device(hass, "Kitchen")
    agent = profile(
        PROFILE_AGENT,
        "Assistant",
        [Link(cloud.entry_id, "gpt-4.1-mini")],
        **{LLM_HASS_API: [llm.LLM_API_ASSIST]},
    )
    hub = await add_hub(hass, agent, endpoint("Kitchen", device))
    looking = {"anima__look", "anima__watch"}
    await _ask(hass, "Hello", device)
    assert not looking & _tools(_chats(openai_server)[-1])

    kitchen = next(s for s in hub.subentries.values() if s.title == "Kitchen")
    hass.config_entries.async_update_subentry(
        hub, kitchen, data={**kitchen.data, CAMERA: "camera.porch"}
    )
    await hass.async_block_till_done()
    await _ask(hass, "Hello", device)
    assert looking <= _tools(_chats(openai_server)[-1])
    context = llm.LLMContext(
        platform="test", context=None, language="en", assistant=None, device_id=device
    )
    api = await llm.async_get_api(hass, llm.LLM_API_ASSIST, context)
    anima_tools = [tool for tool in api.tools if tool.name.startswith(f"{DOMAIN}__")]
    assert {tool.name for tool in anima_tools} == looking
    assert {tool.integration for tool in anima_tools} == {DOMAIN}

    assistant = next(s for s in hub.subentries.values() if s.title == "Assistant")
    hass.config_entries.async_update_subentry(
        hub,
        assistant,
        data={**assistant.data, "chain": [Link(cloud.entry_id, "deepseek-chat").as_data()]},
    )
    await hass.async_block_till_done()
    await _ask(hass, "Hello", device)
    assert not looking & _tools(_chats(openai_server)[-1])  # deepseek-chat reads no images


async def test_a_camera_that_gives_no_picture_is_said_not_crashed(
    hass: HomeAssistant, openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    device = await _setup(hass, openai_server, tmp_path, **{CAMERA: "camera.porch"})
    (tmp_path / "porch.jpg").unlink()  # the camera's source is gone
    openai_server.reply(
        Reply.tool_call("anima__look", {"question": "What do you see?"}), Reply.text("Sorry.")
    )
    assert await _ask(hass, "What do you see?", device) == "Sorry."
    assert "did not give me a picture" in _chats(openai_server)[-1].json["messages"][-1]["content"]


async def test_a_camera_of_no_endpoint_exposed_to_assist_is_looked_through_by_name(
    hass: HomeAssistant, openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    """camera.porch belongs to no endpoint: exposed to Assist, any agent may look through it."""
    device = await _setup(hass, openai_server, tmp_path)
    async_expose_entity(hass, conversation.DOMAIN, "camera.porch", True)
    look = Reply.tool_call("anima__look", {"question": "Anyone there?", "camera": "camera.porch"})
    openai_server.reply(look, Reply.text("Nobody."), Reply.text("Nobody is there."))
    assert await _ask(hass, "Is anyone on the porch?", device) == "Nobody is there."
    asked, looked, _ = _chats(openai_server)
    assert not asked.images
    assert len(looked.images) == 1


async def test_describe_says_why_no_model_looked(
    hass: HomeAssistant, openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    """Before the hub exists no agent can see; with it, a vision model that fails is said."""
    await porch_camera(hass, tmp_path)
    cloud = await add_openai(hass, openai_server, "OpenAI", preset="openai")
    describe = {"camera": "camera.porch"}
    with pytest.raises(HomeAssistantError, match="None of my agents has a model that can see"):
        await hass.services.async_call(
            DOMAIN, "describe", describe, blocking=True, return_response=True
        )
    agent = profile(PROFILE_AGENT, "Assistant", [Link(cloud.entry_id, "gpt-4.1-mini")])
    await add_hub(hass, agent)
    openai_server.reply(*[Reply.error(500)] * 3)
    with pytest.raises(HomeAssistantError, match="couldn't reach a model to look at the picture"):
        await hass.services.async_call(
            DOMAIN, "describe", describe, blocking=True, return_response=True
        )
    assert len(_chats(openai_server)[-1].images) == 1  # the picture was sent; no answer came
