"""Agent profiles: conversation entities answering through a chain of providers.

Two fake OpenAI-compatible services play the providers (`primary` and `backup`); Home
Assistant, its conversation and assist pipeline components and Anima are real.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import dataclasses
from typing import Any

from homeassistant.components import conversation
from homeassistant.components.homeassistant.exposed_entities import async_expose_entity
from homeassistant.config_entries import SOURCE_REAUTH
from homeassistant.core import Context, HomeAssistant
from homeassistant.helpers import entity_registry as er, intent, llm
from homeassistant.helpers.entity_component import async_update_entity
from homeassistant.setup import async_setup_component
import pytest
import pytest_asyncio
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.anima.const import DOMAIN
from custom_components.anima.core.health import HealthState
from custom_components.anima.core.profiles import (
    BREVITY,
    LLM_HASS_API,
    MAX_TOKENS,
    PROFILE_AGENT,
    Link,
)
from custom_components.anima.core.speech.shaping import shape
from custom_components.anima.runtime.calls import MOST_CHARACTERS_PER_TOKEN
from custom_components.anima.runtime.data import AnimaData
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.integration.anima_setup import add_hub, add_openai, profile

AGENT = "conversation.anima_assistant"


@pytest_asyncio.fixture
async def backup(socket_enabled: None) -> AsyncIterator[FakeOpenAIServer]:
    """A second provider, for fallbacks and swaps."""
    async with FakeOpenAIServer() as server:
        yield server


async def _converse(
    hass: HomeAssistant, text: str, agent: str = AGENT
) -> conversation.ConversationResult:
    return await conversation.async_converse(hass, text, None, Context(), "en", agent_id=agent)


def _speech(result: conversation.ConversationResult) -> str:
    return str(result.response.speech["plain"]["speech"])


def _chats(server: FakeOpenAIServer) -> list[Any]:
    return [r for r in server.requests if r.path.endswith("/chat/completions")]


async def _setup(
    hass: HomeAssistant, primary: FakeOpenAIServer, backup: FakeOpenAIServer, **options: Any
) -> tuple[str, str]:
    a = await add_openai(hass, primary, "Primary")
    b = await add_openai(hass, backup, "Backup")
    links = [Link(a.entry_id, "gpt-4.1-mini"), Link(b.entry_id, "gpt-4o-mini")]
    await add_hub(hass, profile(PROFILE_AGENT, "Assistant", links, **options))
    return a.entry_id, b.entry_id


async def test_agent_answers_with_the_first_provider_and_a_brevity_instruction(
    hass: HomeAssistant, openai_server: FakeOpenAIServer, backup: FakeOpenAIServer
) -> None:
    await _setup(hass, openai_server, backup)
    openai_server.reply(Reply.text("Paris is the capital of France."))
    result = await _converse(hass, "What is the capital of France?")
    assert _speech(result) == "Paris is the capital of France."
    request = _chats(openai_server)[-1].json
    assert request["model"] == "gpt-4.1-mini"
    assert request["stream"] is True
    system = request["messages"][0]
    assert system["role"] == "system"
    assert "short sentences" in system["content"]
    assert request["messages"][-1] == {"role": "user", "content": "What is the capital of France?"}
    assert _chats(backup) == []


async def test_brevity_instruction_is_the_users_to_change(
    hass: HomeAssistant, openai_server: FakeOpenAIServer, backup: FakeOpenAIServer
) -> None:
    await _setup(hass, openai_server, backup, **{BREVITY: "Answer like a pirate."})
    await _converse(hass, "Hello")
    system = _chats(openai_server)[-1].json["messages"][0]["content"]
    assert "Answer like a pirate." in system
    assert "short sentences" not in system


@pytest.mark.parametrize(
    "failure",
    [
        Reply.error(500),
        Reply.error(503),
        Reply.malformed(after_chunks=0),
        Reply.disconnect(after_chunks=0),
    ],
    ids=["500", "503", "malformed", "dropped"],
)
async def test_a_provider_failing_before_it_speaks_is_replaced(
    hass: HomeAssistant, openai_server: FakeOpenAIServer, backup: FakeOpenAIServer, failure: Reply
) -> None:
    await _setup(hass, openai_server, backup)
    openai_server.reply(failure)
    backup.reply(Reply.text("Backup here."))
    result = await _converse(hass, "Hello")
    assert _speech(result) == "Backup here."
    assert _chats(backup)[-1].json["model"] == "gpt-4o-mini"


async def test_a_stream_that_breaks_after_speaking_ends_with_an_apology(
    hass: HomeAssistant, openai_server: FakeOpenAIServer, backup: FakeOpenAIServer
) -> None:
    await _setup(hass, openai_server, backup)
    openai_server.reply(Reply.disconnect(after_chunks=3, text="The weather today is sunny and"))
    result = await _converse(hass, "Weather?")
    speech = _speech(result)
    assert speech.startswith("The weather")
    assert speech.endswith("Sorry, I lost my connection.")
    assert _chats(backup) == []  # it had spoken: no switch mid-sentence


async def test_a_connections_patience_for_the_first_token_is_its_own_setting(
    hass: HomeAssistant, openai_server: FakeOpenAIServer, backup: FakeOpenAIServer
) -> None:
    primary_id, _ = await _setup(hass, openai_server, backup)
    openai_server.reply(Reply.text("Primary, slowly.", first_token_delay=1.5))
    assert _speech(await _converse(hass, "Hello")) == "Primary, slowly."  # a local server waits

    flow = await hass.config_entries.options.async_init(primary_id)
    flow = await hass.config_entries.options.async_configure(
        flow["flow_id"], {"next_step_id": "patience"}
    )
    result = await hass.config_entries.options.async_configure(
        flow["flow_id"], {"first_token_seconds": 1}
    )
    assert result["type"] == "create_entry"
    openai_server.reply(Reply.text("Primary, slowly.", first_token_delay=1.5))
    backup.reply(Reply.text("Backup here."))
    assert _speech(await _converse(hass, "Hello")) == "Backup here."  # not waited for


async def test_rejected_key_starts_reauth_and_the_backup_answers(
    hass: HomeAssistant, openai_server: FakeOpenAIServer, backup: FakeOpenAIServer
) -> None:
    primary_id, _ = await _setup(hass, openai_server, backup)
    openai_server.reply(Reply.error(401))
    backup.reply(Reply.text("Backup here."))
    assert _speech(await _converse(hass, "Hello")) == "Backup here."
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [(f["context"]["source"], f["context"]["entry_id"]) for f in flows] == [
        (SOURCE_REAUTH, primary_id)
    ]
    # No retry with a rejected key: the next turn goes straight to the backup.
    calls = len(_chats(openai_server))
    await _converse(hass, "Again")
    assert len(_chats(openai_server)) == calls
    assert hass.states.get("sensor.primary_health").state == "needs_reauth"


async def test_rate_limit_cools_the_provider_down_for_retry_after(
    hass: HomeAssistant, openai_server: FakeOpenAIServer, backup: FakeOpenAIServer
) -> None:
    await _setup(hass, openai_server, backup)
    openai_server.reply(Reply.rate_limited(retry_after=120))
    await _converse(hass, "Hello")
    await hass.async_block_till_done()
    health = hass.states.get("sensor.primary_health")
    assert health.state == "cooldown"
    assert 100 < health.attributes["retry_in"] <= 120
    calls = len(_chats(openai_server))
    await _converse(hass, "Again")
    assert len(_chats(openai_server)) == calls  # skipped while cooling down
    assert len(_chats(backup)) == 2


async def test_breaker_opens_after_failures_then_probes_and_closes(
    hass: HomeAssistant,
    openai_server: FakeOpenAIServer,
    backup: FakeOpenAIServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await _setup(hass, openai_server, backup)
    router = AnimaData.of(hass).router
    router.open_seconds = 0.2
    openai_server.reply(Reply.error(500), Reply.error(500), Reply.error(500))
    for _ in range(3):
        await _converse(hass, "Hello")
    await hass.async_block_till_done()
    assert hass.states.get("sensor.primary_health").state == "open"
    calls = len(_chats(openai_server))
    await _converse(hass, "Skipped?")
    assert len(_chats(openai_server)) == calls
    await asyncio.sleep(0.25)
    await async_update_entity(hass, "sensor.primary_health")
    assert hass.states.get("sensor.primary_health").state == "half_open"
    openai_server.reply(Reply.text("Primary is back."))
    assert _speech(await _converse(hass, "Probe")) == "Primary is back."  # the half-open probe
    await hass.async_block_till_done()
    assert hass.states.get("sensor.primary_health").state == "closed"
    # One line when it went (not one per failed call), one when it came back.
    said = [r.getMessage() for r in caplog.records if r.name == "custom_components.anima"]
    assert [m for m in said if m.startswith("Primary ")] == [
        "Primary is unavailable (open after ProviderServerError); other links of its chains"
        " answer meanwhile",
        "Primary answers again",
    ]


async def test_every_provider_failing_is_said_not_silent(
    hass: HomeAssistant, openai_server: FakeOpenAIServer, backup: FakeOpenAIServer
) -> None:
    await _setup(hass, openai_server, backup)
    openai_server.reply(Reply.error(500))
    backup.reply(Reply.error(502))
    result = await _converse(hass, "Hello")
    assert result.response.response_type is intent.IntentResponseType.ERROR
    assert _speech(result) == "Sorry, I can't reach any of my AI services right now."


async def test_tool_loop_controls_home_assistant(
    hass: HomeAssistant, openai_server: FakeOpenAIServer, backup: FakeOpenAIServer
) -> None:
    assert await async_setup_component(hass, "intent", {})
    hass.states.async_set("light.kitchen", "off", {"friendly_name": "Kitchen light"})
    async_expose_entity(hass, conversation.DOMAIN, "light.kitchen", True)
    turned_on: list[str] = []

    async def turn_on(call: Any) -> None:
        turned_on.extend(call.data["entity_id"])

    hass.services.async_register("light", "turn_on", turn_on)
    await _setup(hass, openai_server, backup, **{LLM_HASS_API: [llm.LLM_API_ASSIST]})
    openai_server.reply(
        Reply.tool_call("intent__HassTurnOn", {"name": "Kitchen light"}),
        Reply.text("The kitchen light is on."),
    )
    result = await _converse(hass, "Turn on the kitchen light")
    assert _speech(result) == "The kitchen light is on."
    assert turned_on == ["light.kitchen"]
    first, second = _chats(openai_server)[-2:]
    assert any(t["function"]["name"] == "intent__HassTurnOn" for t in first.json["tools"])
    tool_message = second.json["messages"][-1]
    assert tool_message["role"] == "tool"
    assert "light.kitchen" in tool_message["content"]


async def test_a_question_back_continues_the_conversation(
    hass: HomeAssistant, openai_server: FakeOpenAIServer, backup: FakeOpenAIServer
) -> None:
    await _setup(hass, openai_server, backup)
    openai_server.reply(Reply.text("Which room do you mean?"))
    result = await _converse(hass, "Turn on the light")
    assert result.continue_conversation is True


async def test_live_swap_in_a_pipeline_without_reload(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    openai_server: FakeOpenAIServer,
    backup: FakeOpenAIServer,
) -> None:
    """A pipeline uses the agent; the profile moves from provider A to B; the next turn is B's."""
    assert await async_setup_component(hass, "assist_pipeline", {})
    primary = await add_openai(hass, openai_server, "Provider A")
    other = await add_openai(hass, backup, "Provider B")
    hub = await add_hub(
        hass, profile(PROFILE_AGENT, "Assistant", [Link(primary.entry_id, "gpt-4.1-mini")])
    )
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {
            "type": "assist_pipeline/pipeline/create",
            "conversation_engine": AGENT,
            "conversation_language": "en",
            "language": "en",
            "name": "Kitchen",
            "stt_engine": None,
            "stt_language": None,
            "tts_engine": None,
            "tts_language": None,
            "tts_voice": None,
            "wake_word_entity": None,
            "wake_word_id": None,
        }
    )
    pipeline_id = (await client.receive_json())["result"]["id"]
    entity_entry = er.async_get(hass).async_get(AGENT)

    async def run(text: str) -> str:
        await client.send_json_auto_id(
            {
                "type": "assist_pipeline/run",
                "start_stage": "intent",
                "end_stage": "intent",
                "input": {"text": text},
                "pipeline": pipeline_id,
            }
        )
        assert (await client.receive_json())["success"]
        speech = ""
        while (event := (await client.receive_json())["event"])["type"] != "run-end":
            if event["type"] == "intent-end":
                speech = event["data"]["intent_output"]["response"]["speech"]["plain"]["speech"]
        return speech

    openai_server.reply(Reply.text("A speaking."))
    assert await run("Who are you?") == "A speaking."

    # Reconfigure the profile through its subentry flow, as the UI does.
    subentry_id = next(iter(hub.subentries))
    result = await hass.config_entries.subentries.async_init(
        (hub.entry_id, PROFILE_AGENT), context={"source": "reconfigure", "subentry_id": subentry_id}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {"name": "Assistant", "chain": [Link(other.entry_id, "gpt-4o-mini").option()]},
    )
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()

    backup.reply(Reply.text("B speaking."))
    calls_to_a = len(_chats(openai_server))
    assert await run("Who are you now?") == "B speaking."
    assert len(_chats(openai_server)) == calls_to_a
    assert _chats(backup)[-1].json["model"] == "gpt-4o-mini"
    # Same entity, same registry entry: nothing that refers to it has to change.
    assert er.async_get(hass).async_get(AGENT) == entity_entry


async def test_history_after_a_locally_handled_turn_is_valid_chat_completions(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator, openai_server: FakeOpenAIServer
) -> None:
    """Home Assistant answers "what time is it" itself (a `time` in its result); the next turn
    of the conversation goes to the model, with that turn's tool call before its result."""
    assert await async_setup_component(hass, "intent", {})
    assert await async_setup_component(hass, "assist_pipeline", {})
    cloud = await add_openai(hass, openai_server, "Cloud")
    agent = profile(
        PROFILE_AGENT,
        "Assistant",
        [Link(cloud.entry_id, "gpt-4.1-mini")],
        **{LLM_HASS_API: [llm.LLM_API_ASSIST]},
    )
    await add_hub(hass, agent)
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {
            "type": "assist_pipeline/pipeline/create",
            "conversation_engine": AGENT,
            "conversation_language": "en",
            "language": "en",
            "name": "Local first",
            "prefer_local_intents": True,
            "stt_engine": None,
            "stt_language": None,
            "tts_engine": None,
            "tts_language": None,
            "tts_voice": None,
            "wake_word_entity": None,
            "wake_word_id": None,
        }
    )
    pipeline_id = (await client.receive_json())["result"]["id"]

    async def run(text: str, conversation_id: str | None) -> tuple[str, str]:
        await client.send_json_auto_id(
            {
                "type": "assist_pipeline/run",
                "start_stage": "intent",
                "end_stage": "intent",
                "input": {"text": text},
                "pipeline": pipeline_id,
                "conversation_id": conversation_id,
            }
        )
        assert (await client.receive_json())["success"]
        while (event := (await client.receive_json())["event"])["type"] != "run-end":
            assert event["type"] != "error", event
            if event["type"] == "intent-end":
                output = event["data"]["intent_output"]
        return output["response"]["speech"]["plain"]["speech"], output["conversation_id"]

    said, conversation_id = await run("What time is it?", None)
    assert said  # answered by Home Assistant itself
    assert not _chats(openai_server)
    openai_server.reply(Reply.text("Hello again."))
    assert (await run("Tell me a joke", conversation_id))[0] == "Hello again."
    messages = _chats(openai_server)[-1].json["messages"]
    calls = [m for m in messages if m["role"] == "assistant" and m.get("tool_calls")]
    results = [m for m in messages if m["role"] == "tool"]
    assert len(calls) == len(results) == 1
    assert calls[0]["tool_calls"][0]["id"] == results[0]["tool_call_id"]
    assert messages.index(calls[0]) + 1 == messages.index(results[0])
    assert "time" in results[0]["content"]


async def test_an_answer_stops_at_max_tokens_whatever_the_provider_streams(
    hass: HomeAssistant, openai_server: FakeOpenAIServer, backup: FakeOpenAIServer
) -> None:
    """The provider ignores max_tokens and streams 25,000 characters; 20 tokens' worth stay."""
    await _setup(hass, openai_server, backup, **{MAX_TOKENS: 20})
    openai_server.reply(Reply.text("word " * 5000))
    result = await _converse(hass, "Tell me everything")
    assert _chats(openai_server)[-1].json["max_tokens"] == 20
    assert 0 < len(_speech(result)) <= 20 * MOST_CHARACTERS_PER_TOKEN


async def test_a_tool_call_the_model_botched_is_asked_again_in_words_not_a_breaker_failure(
    hass: HomeAssistant, openai_server: FakeOpenAIServer, backup: FakeOpenAIServer
) -> None:
    """llama-server's `peg-native format` error before any text: asked once more without
    tools; twice in a row is said as the model's muddle; the breaker never opens."""
    a = await add_openai(hass, openai_server, "Primary")
    await add_hub(
        hass,
        profile(
            PROFILE_AGENT,
            "Assistant",
            [Link(a.entry_id, "gpt-4.1-mini")],
            **{LLM_HASS_API: [llm.LLM_API_ASSIST]},
        ),
    )
    openai_server.reply(Reply.error_event(after_chunks=0), Reply.text("Hello in words."))
    assert _speech(await _converse(hass, "Hello")) == "Hello in words."
    first, again = _chats(openai_server)[-2:]
    assert first.json.get("tools")
    assert not again.json.get("tools")
    for _ in range(3):
        openai_server.reply(Reply.error_event(after_chunks=0), Reply.error_event(after_chunks=0))
        said = _speech(await _converse(hass, "Hello"))
        assert said == "Sorry, I got muddled answering that. Please ask me again in other words."
    assert AnimaData.of(hass).router.state(a.entry_id) is HealthState.CLOSED
    openai_server.reply(Reply.text("Still here."))
    assert _speech(await _converse(hass, "Hello")) == "Still here."


async def test_a_conversation_too_long_for_the_model_is_asked_again_with_less_history(
    hass: HomeAssistant, openai_server: FakeOpenAIServer
) -> None:
    """One link (with a second one, the next link would be asked instead)."""
    a = await add_openai(hass, openai_server, "Primary")
    await add_hub(hass, profile(PROFILE_AGENT, "Assistant", [Link(a.entry_id, "gpt-4.1-mini")]))
    result = await _converse(hass, "My name is Sam.")
    conversation_id = result.conversation_id
    for text in ("I live in Delft.", "I like tea."):
        await conversation.async_converse(
            hass, text, conversation_id, Context(), "en", agent_id=AGENT
        )
    openai_server.reply(
        Reply.error(400, "the request exceeds the available context size, try increasing it"),
        Reply.text("You like tea."),
    )
    result = await conversation.async_converse(
        hass, "What do I like?", conversation_id, Context(), "en", agent_id=AGENT
    )
    assert _speech(result) == "You like tea."
    refused, shorter = _chats(openai_server)[-2:]
    said = [m["content"] for m in shorter.json["messages"] if m["role"] == "user"]
    assert len(said) < len([m for m in refused.json["messages"] if m["role"] == "user"])
    assert said[-1] == "What do I like?"
    assert "My name is Sam." not in said  # the oldest turn went first
    assert shorter.json["messages"][0]["role"] == "system"


@pytest.mark.parametrize(
    "pieces",
    [
        ("Here:\n", "```json\n{", '"a": '),  # broken inside a code block: the block is closed
        ("Say ```json", " {", '"a": '),  # backticks inside a line open no block: none is closed
    ],
)
async def test_an_answer_broken_inside_a_code_block_still_says_its_apology(
    hass: HomeAssistant,
    openai_server: FakeOpenAIServer,
    backup: FakeOpenAIServer,
    pieces: tuple[str, ...],
) -> None:
    await _setup(hass, openai_server, backup)
    # The role chunk, two pieces, then the error: the third piece is never sent.
    openai_server.reply(dataclasses.replace(Reply.error_event(after_chunks=3), pieces=pieces))
    said = _speech(await _converse(hass, "Give me JSON"))
    assert said.startswith("".join(pieces[:2]))
    assert "Sorry, I got muddled there." in shape(said).text  # what the voice says
