"""What real services refuse is never sent: each rule through the client and a fake that refuses
what api.openai.com (or OpenRouter) refuses, so a regression fails here."""

from __future__ import annotations

from dataclasses import replace
import json
from typing import Any

import aiohttp
import pytest

from custom_components.anima.const import (
    API_KEY,
    BASE_URL,
    KIND,
    KIND_OPENAI,
    PRESET,
    VALIDATION_TIMEOUT,
)
from custom_components.anima.providers.base import (
    ChatDelta,
    ChatMessage,
    ChatRequest,
    ProviderAuthError,
    ProviderRequestError,
    ToolCall,
    Usage,
)
from custom_components.anima.providers.connection import open_connection
from custom_components.anima.providers.model_rules import ModelRules, parse_rules, rules_for
from custom_components.anima.providers.openai_compat import OpenAICompatClient
from custom_components.anima.providers.strict_schema import drop_added_nulls
from tests.fakes.openai_server import FakeOpenAIServer, Reply

HELLO = (ChatMessage("user", "Hello"),)


async def collect(client: OpenAICompatClient, request: ChatRequest) -> list[ChatDelta]:
    return [delta async for delta in client.stream_chat(request)]


def text_of(deltas: list[ChatDelta]) -> str:
    return "".join(delta.text for delta in deltas)


# --- reasoning models -----------------------------------------------------------------------


@pytest.mark.parametrize("model", ["o3-mini", "o4-mini", "gpt-5", "gpt-5-mini", "gpt-5.1"])
async def test_reasoning_models_get_max_completion_tokens_and_no_temperature(
    client: OpenAICompatClient, openai_server: FakeOpenAIServer, model: str
) -> None:
    request = ChatRequest(model, HELLO, temperature=0.3, max_tokens=200)
    assert text_of(await collect(client, request)) == "Hello"  # the fake refuses the others
    sent = openai_server.requests[-1].json
    assert sent["max_completion_tokens"] == 200
    assert not {"max_tokens", "temperature"} & set(sent)


@pytest.mark.parametrize("model", ["gpt-4.1-mini", "gpt-5-chat-latest", "qwen-plus", "llama3.2"])
async def test_other_models_keep_their_temperature(
    client: OpenAICompatClient, openai_server: FakeOpenAIServer, model: str
) -> None:
    await collect(client, ChatRequest(model, HELLO, temperature=0.3, max_tokens=200))
    sent = openai_server.requests[-1].json
    assert sent["temperature"] == 0.3
    assert sent.get("max_tokens", sent.get("max_completion_tokens")) == 200


async def test_the_fake_refuses_what_openai_refuses_of_a_reasoning_model(
    session: aiohttp.ClientSession, openai_server: FakeOpenAIServer
) -> None:
    # The rules are what make the requests above pass: without them, HTTP 400.
    body = {"model": "o3-mini", "messages": [{"role": "user", "content": "Hi"}]}
    headers = {"Authorization": f"Bearer {openai_server.api_key}"}
    for extra, param in (({"max_tokens": 5}, "max_tokens"), ({"temperature": 0.2}, "temperature")):
        async with session.post(
            openai_server.base_url + "/chat/completions", json=body | extra, headers=headers
        ) as response:
            assert response.status == 400
            assert (await response.json())["error"]["param"] == param


def test_model_rules_are_data_read_in_order() -> None:
    rules = parse_rules(
        {
            "rules": [
                {"pattern": "^big-chat", "max_tokens_field": "max_completion_tokens"},
                {"pattern": "^big", "temperature": False},
            ]
        }
    )
    first = next(r for p, r in rules if p.search("Big-Chat-2"))  # case-insensitive
    assert first == ModelRules("max_completion_tokens", temperature=True)
    assert rules_for("a-model-no-rule-names") == ModelRules("max_tokens", temperature=True)
    for broken in (
        {},
        {"rules": [{"temperature": False}]},
        {"rules": [{"pattern": "x", "max_tokens_field": "n"}]},
    ):
        with pytest.raises(ValueError, match=r"models\.json"):
            parse_rules(broken)


# --- strict JSON schemas ----------------------------------------------------------------------

ROOM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "room": {"type": "string"},
        "people": {"type": "integer"},
        "mood": {"type": "string", "enum": ["calm", "busy"]},
        "lights": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "on": {"type": "boolean"}},
                "required": ["name"],
            },
        },
        "door": {"type": "object", "properties": {"open": {"type": "boolean"}}},
    },
    "required": ["room", "lights"],
}


async def test_strict_schemas_require_everything_and_make_optional_fields_nullable(
    client: OpenAICompatClient, openai_server: FakeOpenAIServer
) -> None:
    answer = {"room": "kitchen", "people": None, "mood": None, "door": None}
    answer |= {"lights": [{"name": "Kitchen Light", "on": None}]}
    openai_server.reply(Reply.text(json.dumps(answer)))
    request = ChatRequest("gpt-4.1-mini", HELLO, json_schema=ROOM_SCHEMA)
    text = text_of(await collect(client, request))  # the fake refuses a schema that is not strict

    sent = openai_server.requests[-1].json["response_format"]["json_schema"]
    assert sent["strict"] is True
    schema = sent["schema"]
    assert schema["required"] == ["room", "people", "mood", "lights", "door"]
    assert schema["additionalProperties"] is False
    properties = schema["properties"]
    assert properties["room"] == {"type": "string"}  # required: unchanged
    assert properties["people"] == {"type": ["integer", "null"]}
    assert properties["mood"] == {"anyOf": [ROOM_SCHEMA["properties"]["mood"], {"type": "null"}]}
    light = properties["lights"]["items"]
    assert (light["required"], light["additionalProperties"]) == (["name", "on"], False)
    assert light["properties"]["on"] == {"type": ["boolean", "null"]}
    door = properties["door"]
    assert door["type"] == ["object", "null"]
    assert (door["required"], door["additionalProperties"]) == (["open"], False)
    assert ROOM_SCHEMA["properties"]["door"] == {  # the caller's schema is left as it was
        "type": "object",
        "properties": {"open": {"type": "boolean"}},
    }
    # The nulls strict mode made the model send are dropped, so the answer fits the original.
    assert drop_added_nulls(ROOM_SCHEMA, json.loads(text)) == {
        "room": "kitchen",
        "lights": [{"name": "Kitchen Light"}],
    }


async def test_the_fake_refuses_a_schema_that_is_not_strict(
    session: aiohttp.ClientSession, openai_server: FakeOpenAIServer
) -> None:
    format_ = {"type": "json_schema", "json_schema": {"name": "result", "strict": True}}
    format_["json_schema"]["schema"] = ROOM_SCHEMA
    body = {"model": "gpt-4.1-mini", "messages": [], "response_format": format_}
    headers = {"Authorization": f"Bearer {openai_server.api_key}"}
    async with session.post(
        openai_server.base_url + "/chat/completions", json=body, headers=headers
    ) as response:
        assert response.status == 400
        error = (await response.json())["error"]
    assert error["param"] == "response_format"
    assert "Invalid schema for response_format 'result'" in error["message"]


# --- usage --------------------------------------------------------------------------------------


async def test_cached_prompt_tokens_are_read_into_the_usage(
    client: OpenAICompatClient, openai_server: FakeOpenAIServer
) -> None:
    openai_server.reply(replace(Reply.text("Hi there", usage=(1200, 3)), cached_tokens=1024))
    deltas = await collect(client, ChatRequest("gpt-4.1-mini", HELLO))
    assert deltas[-1].usage == Usage(input_tokens=1200, output_tokens=3, cached_input_tokens=1024)
    assert openai_server.requests[-1].json["stream_options"] == {"include_usage": True}


# --- history ------------------------------------------------------------------------------------

LOOK = ToolCall("call_look1", "anima__look", {"question": "who is there?"})


async def test_a_tool_result_with_its_call_is_accepted(
    client: OpenAICompatClient, openai_server: FakeOpenAIServer
) -> None:
    history = (
        ChatMessage("user", "Who is at the door?"),
        ChatMessage("assistant", tool_calls=(LOOK,)),
        ChatMessage("tool", '{"seen": "a courier"}', tool_call_id=LOOK.id),
    )
    openai_server.reply(Reply.text("A courier."))
    assert text_of(await collect(client, ChatRequest("gpt-4.1-mini", history))) == "A courier."


@pytest.mark.parametrize(
    ("history", "message"),
    [
        pytest.param(
            (
                ChatMessage("user", "What time is it?"),
                ChatMessage("tool", '{"time": "10:02"}', tool_call_id="call_lost"),
                ChatMessage("user", "Turn on the kitchen light"),
            ),
            "messages with role 'tool' must be a response to a preceeding message",
            id="tool_result_without_its_call",
        ),
        pytest.param(
            (
                ChatMessage("user", "Who is at the door?"),
                ChatMessage("assistant", tool_calls=(LOOK,)),
                ChatMessage("user", "Never mind"),
            ),
            "did not have response messages: call_look1",
            id="call_without_its_result",
        ),
    ],
)
async def test_history_openai_refuses_is_refused_by_the_fake(
    client: OpenAICompatClient,
    openai_server: FakeOpenAIServer,
    history: tuple[ChatMessage, ...],
    message: str,
) -> None:
    with pytest.raises(ProviderRequestError, match=message) as raised:
        await collect(client, ChatRequest("gpt-4.1-mini", history))
    assert raised.value.status == 400


# --- keys ---------------------------------------------------------------------------------------


async def test_an_openrouter_key_is_checked_where_it_is_needed(
    openai_server: FakeOpenAIServer, session: aiohttp.ClientSession
) -> None:
    openai_server.openrouter_auth = True  # /models answers anyone, as OpenRouter's does
    data = {KIND: KIND_OPENAI, PRESET: "openrouter", BASE_URL: openai_server.base_url}
    for wrong in ("sk-or-v1-not-the-key", ""):
        with pytest.raises(ProviderAuthError):
            await open_connection(session, data | {API_KEY: wrong}, timeout=VALIDATION_TIMEOUT)
    good = data | {API_KEY: openai_server.api_key}
    connection = await open_connection(session, good, timeout=VALIDATION_TIMEOUT)
    assert "gpt-4.1-mini" in connection.models
    assert [r.path for r in openai_server.requests[-2:]] == ["/v1/models", "/v1/key"]
    assert openai_server.requests[-1].authorization == f"Bearer {openai_server.api_key}"
