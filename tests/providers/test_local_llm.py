"""Anima's OpenAI-compatible client against a real model: llama-server with Qwen2.5-Coder-0.5B.

Temperature 0 throughout, which makes the answers the same on every run. The server has one
slot, so these tests run one at a time and share its prompt cache.
"""

from __future__ import annotations

import json

import aiohttp
import pytest

from custom_components.anima.providers.base import (
    ChatDelta,
    ChatMessage,
    ChatRequest,
    ProviderOutputError,
    ToolSpec,
)
from custom_components.anima.providers.openai_compat import OpenAICompatClient
from tests.fixtures.local_llm import LocalLLM

SYSTEM = ChatMessage("system", "You are a voice assistant for a home. Answer in one sentence.")
#: Home Assistant's HassTurnOn intent as its Assist API offers it (namespaced, as since 2026).
TURN_ON = ToolSpec(
    "intent__HassTurnOn",
    "Turns on/opens/presses a device or entity. For locks, this performs a 'lock' action. "
    "Use for requests like 'turn on', 'activate', 'enable', or 'lock'.",
    {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "area": {"type": "string"},
            "floor": {"type": "string"},
            "domain": {"type": "array", "items": {"type": "string", "enum": ["light", "switch"]}},
        },
    },
)
KITCHEN = ChatMessage("user", "Turn on the kitchen light")


@pytest.fixture
def client(local_llm: LocalLLM, session: aiohttp.ClientSession) -> OpenAICompatClient:
    """Anima's client of the real local model (no key)."""
    return OpenAICompatClient(session, local_llm.base_url, None)


async def collect(client: OpenAICompatClient, request: ChatRequest) -> list[ChatDelta]:
    return [delta async for delta in client.stream_chat(request)]


def text_of(deltas: list[ChatDelta]) -> str:
    return "".join(delta.text for delta in deltas)


async def test_the_model_is_listed(client: OpenAICompatClient, local_llm: LocalLLM) -> None:
    assert await client.list_models() == [local_llm.model] == ["qwen2.5-coder-0.5b-instruct"]


async def test_a_question_is_answered_in_a_stream_that_ends_with_the_usage(
    client: OpenAICompatClient, local_llm: LocalLLM
) -> None:
    question = ChatMessage("user", "What is the capital of France?")
    deltas = await collect(client, ChatRequest(local_llm.model, (SYSTEM, question), temperature=0))

    assert "Paris" in text_of(deltas)
    assert len([delta for delta in deltas if delta.text]) > 3  # streamed token by token
    last = deltas[-1]
    assert last.finish_reason == "stop"
    assert last.usage is not None
    assert last.usage.input_tokens > 20  # the system prompt and the question
    assert 0 < last.usage.output_tokens < 40
    assert last.usage.cached_input_tokens <= last.usage.input_tokens


async def test_a_device_command_is_a_real_tool_call_and_its_result_is_told(
    client: OpenAICompatClient, local_llm: LocalLLM
) -> None:
    request = ChatRequest(local_llm.model, (SYSTEM, KITCHEN), tools=(TURN_ON,), temperature=0)
    deltas = await collect(client, request)

    (call,) = [call for delta in deltas for call in delta.tool_calls]
    assert call.name == "intent__HassTurnOn"
    assert "kitchen" in json.dumps(call.arguments).lower()
    assert deltas[-1].finish_reason == "tool_calls"

    result = {
        "speech": {},
        "response_type": "action_done",
        "data": {
            "success": [{"name": "Kitchen Light", "type": "entity", "id": "light.kitchen_light"}]
        },
    }
    history = (
        SYSTEM,
        KITCHEN,
        ChatMessage("assistant", tool_calls=(call,)),
        ChatMessage("tool", json.dumps(result), tool_call_id=call.id),
    )
    told = await collect(
        client, ChatRequest(local_llm.model, history, tools=(TURN_ON,), temperature=0)
    )
    assert text_of(told).strip()
    assert not [call for delta in told for call in delta.tool_calls]
    assert told[-1].finish_reason == "stop"


async def test_temperature_0_gives_the_same_answer_and_reuses_the_prompt_cache(
    client: OpenAICompatClient, local_llm: LocalLLM
) -> None:
    # Two calls in a row on one session: llama-server closes each connection after a stream,
    # so the second call must not fail on the pooled connection it closed.
    question = ChatMessage("user", "Name three colours of the rainbow.")
    request = ChatRequest(local_llm.model, (SYSTEM, question), temperature=0)
    first, second = await collect(client, request), await collect(client, request)

    assert text_of(first) == text_of(second) != ""
    assert second[-1].usage is not None
    # The same prompt again: the server read it from its cache (all but the last token).
    assert second[-1].usage.cached_input_tokens >= second[-1].usage.input_tokens - 2


async def test_a_tool_call_the_server_cannot_parse_is_an_output_error(
    client: OpenAICompatClient, local_llm: LocalLLM
) -> None:
    # The template's example names tools as Home Assistant does (intent__...): offered a bare
    # name, the small model writes the namespaced one, which is none of the declared tools,
    # and llama-server ends the stream with an error event (its "peg-native format" 500).
    bare = ToolSpec("HassTurnOn", TURN_ON.description, TURN_ON.parameters)
    request = ChatRequest(local_llm.model, (SYSTEM, KITCHEN), tools=(bare,), temperature=0)
    with pytest.raises(ProviderOutputError, match="peg-native format"):
        await collect(client, request)
