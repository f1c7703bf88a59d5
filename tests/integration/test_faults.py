"""What the fault suite (bench/faults.py) found, each as a user meets it in a real Home Assistant.

A model whose tool call runs on without end, a camera that hangs while it is looked through: the
turn is still answered, in words, without the megabytes and within the look's time-out.
"""

from __future__ import annotations

import json

from homeassistant.components import conversation
from homeassistant.core import Context, HomeAssistant
from homeassistant.helpers import llm

from custom_components.anima.core.profiles import LLM_HASS_API, PROFILE_AGENT, Link
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.integration.anima_setup import add_hub, add_openai, profile

AGENT = "conversation.anima_assistant"


async def _converse(hass: HomeAssistant, text: str) -> str:
    result = await conversation.async_converse(hass, text, None, Context(), "en", agent_id=AGENT)
    return str(result.response.speech["plain"]["speech"])


async def test_a_tool_call_with_giant_arguments_is_not_run_and_the_model_answers_in_words(
    hass: HomeAssistant, openai_server: FakeOpenAIServer
) -> None:
    """300,000 characters of arguments: never run, never sent back (billed) to the model."""
    cloud = await add_openai(hass, openai_server, "Cloud")
    await add_hub(
        hass,
        profile(
            PROFILE_AGENT,
            "Assistant",
            [Link(cloud.entry_id, "gpt-4.1-mini")],
            **{LLM_HASS_API: [llm.LLM_API_ASSIST]},
        ),
    )
    openai_server.reply(
        Reply.tool_call("HassTurnOn", {"name": "kitchen " * 40_000}),
        Reply.text("The kitchen light is on."),
    )
    assert await _converse(hass, "Turn on the kitchen light") == "The kitchen light is on."
    chats = [r for r in openai_server.requests if r.path.endswith("/chat/completions")]
    assert max(len(json.dumps(chat.json)) for chat in chats) < 64 * 1024
    assert not chats[-1].json.get("tools")  # asked again, in words
