"""The fake service's Responses API, read by OpenAI's own library (what Home Assistant core's
OpenAI integration uses): the benchmark's peer must see the wire api.openai.com sends."""

from __future__ import annotations

import json

import openai
from openai.types.responses import (
    ResponseCompletedEvent,
    ResponseFunctionCallArgumentsDoneEvent,
    ResponseFunctionToolCall,
    ResponseOutputItemAddedEvent,
    ResponseOutputMessage,
    ResponseTextDeltaEvent,
)

from tests.fakes.openai_server import FakeOpenAIServer, Reply


def _client(server: FakeOpenAIServer) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key=server.api_key, base_url=server.base_url)


async def test_a_streamed_answer_arrives_as_typed_events(openai_server: FakeOpenAIServer) -> None:
    openai_server.reply(Reply.text("Paris is the capital.", usage=(30, 5)), endpoint="responses")
    stream = await _client(openai_server).responses.create(
        model="gpt-4o-mini", input=[{"role": "user", "content": "Capital of France?"}], stream=True
    )
    events = [event async for event in stream]
    added = [e for e in events if isinstance(e, ResponseOutputItemAddedEvent)]
    assert isinstance(added[0].item, ResponseOutputMessage)
    text = "".join(e.delta for e in events if isinstance(e, ResponseTextDeltaEvent))
    assert text == "Paris is the capital."
    (done,) = [e for e in events if isinstance(e, ResponseCompletedEvent)]
    assert done.response.usage is not None
    assert (done.response.usage.input_tokens, done.response.usage.output_tokens) == (30, 5)
    assert [e.sequence_number for e in events] == list(range(len(events)))


async def test_a_tool_call_streams_its_arguments(openai_server: FakeOpenAIServer) -> None:
    arguments = {"name": "Kitchen Light"}
    openai_server.reply(Reply.tool_call("HassTurnOn", arguments), endpoint="responses")
    stream = await _client(openai_server).responses.create(
        model="gpt-4o-mini", input="Turn on the kitchen light", stream=True
    )
    events = [event async for event in stream]
    (call,) = [
        e.item
        for e in events
        if isinstance(e, ResponseOutputItemAddedEvent)
        and isinstance(e.item, ResponseFunctionToolCall)
    ]
    assert call.name == "HassTurnOn"
    (done,) = [e for e in events if isinstance(e, ResponseFunctionCallArgumentsDoneEvent)]
    assert json.loads(done.arguments) == arguments


async def test_an_answer_not_streamed_is_one_response(openai_server: FakeOpenAIServer) -> None:
    openai_server.reply(Reply.text("Hello there."), endpoint="responses")
    response = await _client(openai_server).responses.create(model="gpt-4o-mini", input="Hi")
    assert response.output_text == "Hello there."
