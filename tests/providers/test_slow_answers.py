"""Slow answers complete through a connection's client: its check time-out cuts no answer.

The connection is opened as set-up opens it (with the validation time-out); a local model on a
cold prompt or a reasoning model speaks only after seconds, and a long answer at a few words a
second streams for half a minute. The router bounds each attempt with its chain's own limits.
"""

from __future__ import annotations

import asyncio

import aiohttp

from custom_components.anima.const import (
    API_KEY,
    BASE_URL,
    KIND,
    KIND_OPENAI,
    PRESET,
    VALIDATION_TIMEOUT,
)
from custom_components.anima.core.routing import Chain, Route, Router
from custom_components.anima.providers.base import ChatDelta, ChatMessage, ChatRequest
from custom_components.anima.providers.connection import open_connection
from custom_components.anima.providers.openai_compat import OpenAICompatClient
from custom_components.anima.providers.presets import CUSTOM
from tests.fakes.openai_server import FakeOpenAIServer, Reply

WORDS = 60  # at 2 words a second: a 30 s answer


async def answer(client: OpenAICompatClient, question: str) -> str:
    request = ChatRequest("gpt-4.1-mini", (ChatMessage("user", question),))
    return "".join([delta.text async for delta in client.stream_chat(request)])


async def open_client(
    session: aiohttp.ClientSession, server: FakeOpenAIServer
) -> OpenAICompatClient:
    """Open the connection to `server` as set-up does, with the validation time-out."""
    data = {KIND: KIND_OPENAI, PRESET: CUSTOM, BASE_URL: server.base_url, API_KEY: server.api_key}
    connection = await open_connection(session, data, timeout=VALIDATION_TIMEOUT)
    assert isinstance(connection.client, OpenAICompatClient)
    return connection.client


async def test_a_late_first_token_and_a_long_stream_both_complete(
    openai_server: FakeOpenAIServer, session: aiohttp.ClientSession
) -> None:
    assert VALIDATION_TIMEOUT < 12  # else this test proves nothing
    late = "Paris is the capital of France."
    long = " ".join(f"word{n}" for n in range(WORDS))
    openai_server.reply(Reply.text(late, first_token_delay=12.0))
    async with FakeOpenAIServer() as other:
        other.reply(Reply.text(long, chunk_delay=30.0 / WORDS))
        # Both at once, so the test takes 30 s rather than 42.
        answers = await asyncio.gather(
            answer(await open_client(session, openai_server), "late"),
            answer(await open_client(session, other), "long"),
        )
    assert answers == [late, long]


async def test_a_tool_call_written_slowly_meets_the_first_token_limit(
    openai_server: FakeOpenAIServer, session: aiohttp.ClientSession
) -> None:
    # A small local model writes a call's arguments a few characters a second; the call is
    # complete only at the end, long after the chain's first-token limit.
    client = await open_client(session, openai_server)
    arguments = {"name": "Kitchen Light", "area": "Kitchen", "domain": ["light"]}
    openai_server.reply(Reply.tool_call("intent__HassTurnOn", arguments, chunk_delay=0.2))
    chain = Chain((Route("local", client, "qwen2.5-coder-0.5b-instruct"),), 1.0, 30.0)
    request = ChatRequest("qwen2.5-coder-0.5b-instruct", (ChatMessage("user", "Kitchen on"),))

    deltas: list[ChatDelta] = [
        delta
        async for delta in Router().stream(chain, lambda route: route.provider.stream_chat(request))
    ]
    (call,) = [call for delta in deltas for call in delta.tool_calls]
    assert (call.name, call.arguments) == ("intent__HassTurnOn", arguments)
