"""A server that sends more than any answer holds is cut off after a bounded read (real sockets).

One line without end, an event of endless data lines, tool call arguments without end, an error
page of tens of megabytes, a Wyoming event announcing as much: each is refused as the provider's
broken answer once it passes its bound, long before the server has sent it all.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import contextlib
import json
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
import pytest

from custom_components.anima.providers.base import (
    ChatDelta,
    ProviderOutputError,
    ProviderResponseError,
    ProviderServerError,
)
from custom_components.anima.providers.openai_chat import MAX_TOOL_ARGUMENTS, ChatStream
from custom_components.anima.providers.openai_compat import OpenAICompatClient
from custom_components.anima.providers.sse import MAX_EVENT_BYTES, SSEDecoder
from custom_components.anima.providers.wyoming import WyomingClient
from tests.fakes.openai_server import FakeOpenAIServer, Reply

from .test_openai_compat import stream_until_error

MIB = 1024 * 1024


async def test_one_line_without_end_is_refused_long_before_it_is_all_read(
    client: OpenAICompatClient, openai_server: FakeOpenAIServer
) -> None:
    openai_server.reply(Reply.endless_line(after_chunks=2, size=48 * MIB))
    said, error = await stream_until_error(client)
    assert isinstance(error, ProviderResponseError)
    assert said == "This"
    assert openai_server.requests[-1].sent_bytes < 16 * MIB  # the client stopped reading


def test_an_event_of_endless_data_lines_is_refused() -> None:
    line = b"data: " + b"x" * 1000 + b"\n"  # data lines, never the blank line ending the event
    with pytest.raises(ProviderResponseError):
        _feed(SSEDecoder(), [line] * (2 * MAX_EVENT_BYTES // len(line)))


def _feed(decoder: SSEDecoder | ChatStream, chunks: list[Any]) -> None:
    for chunk in chunks:
        assert not decoder.feed(chunk)  # no event, no delta: only more to hold


def test_a_line_at_the_bound_is_still_an_event() -> None:
    data = "x" * (MAX_EVENT_BYTES - 100)
    decoder = SSEDecoder()
    payload = f"data: {data}\n\n".encode()
    events = [
        event
        for start in range(0, len(payload), 4096)
        for event in decoder.feed(payload[start : start + 4096])
    ]
    assert events == [data]


def _tool_chunk(fragment: dict[str, object]) -> str:
    return json.dumps({"choices": [{"index": 0, "delta": {"tool_calls": [fragment]}}]})


def test_tool_arguments_past_the_bound_are_the_models_failure() -> None:
    stream = ChatStream()
    start = {"index": 0, "id": "call_1", "function": {"name": "HassTurnOn", "arguments": '{"n'}}
    assert stream.feed(_tool_chunk(start)) == [ChatDelta()]  # the answer has begun
    more = _tool_chunk({"index": 0, "function": {"arguments": "x" * 1000}})
    with pytest.raises(ProviderOutputError):
        _feed(stream, [more] * (2 * MAX_TOOL_ARGUMENTS // 1000))


def test_endless_new_tool_calls_are_the_models_failure() -> None:
    stream = ChatStream()
    stream.feed(_tool_chunk({"index": 0, "id": "c0", "function": {"name": "f"}}))
    calls = [
        _tool_chunk({"index": n, "id": f"c{n}", "function": {"name": "f"}})
        for n in range(1, 10_000)
    ]
    with pytest.raises(ProviderOutputError):
        _feed(stream, calls)


@contextlib.asynccontextmanager
async def huge_error_page(size: int) -> AsyncIterator[tuple[str, list[int]]]:
    """Answer every request HTTP 502 with a page of `size` bytes; yield the base URL and the
    bytes each answer got out before the client hung up."""
    sent: list[int] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(status=502, headers={"Content-Type": "text/html"})
        response.content_length = size
        await response.prepare(request)
        sent.append(0)
        block = b"<p>Bad gateway</p>" * 60000
        with contextlib.suppress(ConnectionResetError):
            while sent[-1] < size:
                await response.write(block[: size - sent[-1]])
                sent[-1] += min(len(block), size - sent[-1])
        return response

    app = web.Application()
    app.router.add_route("*", "/v1/{tail:.*}", handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("/v1")), sent
    finally:
        await server.close()


async def test_a_giant_error_page_is_read_only_in_part(
    socket_enabled: None, session: aiohttp.ClientSession
) -> None:
    async with huge_error_page(64 * MIB) as (base_url, sent):
        client = OpenAICompatClient(session, base_url, None)
        said, error = await stream_until_error(client)
    assert isinstance(error, ProviderServerError)
    assert said == ""
    assert sent[-1] < 16 * MIB


# --- Wyoming servers that announce more than an event holds ------------------------------------


@contextlib.asynccontextmanager
async def announces(header: dict[str, object]) -> AsyncIterator[tuple[int, list[int]]]:
    """A Wyoming peer that answers the first line with `header`, then sends the bytes it
    announced as fast as they are taken; yield its port and the bytes each answer got out."""
    sent: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readline()
        writer.write(json.dumps(header).encode() + b"\n")
        sent.append(0)
        total = int(str(header.get("data_length") or header.get("payload_length")))
        block = b" " * (1 << 20)
        with contextlib.suppress(ConnectionError):
            while sent[-1] < total:
                writer.write(block)
                await writer.drain()
                sent[-1] += len(block)
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1], sent


@pytest.mark.parametrize(
    "header",
    [
        pytest.param({"type": "info", "data_length": 64 * MIB}, id="data"),
        pytest.param(
            {
                "type": "audio-chunk",
                "data": {"rate": 16000, "width": 2, "channels": 1},
                "payload_length": 64 * MIB,
            },
            id="payload",
        ),
    ],
)
async def test_a_wyoming_server_announcing_a_giant_event_is_refused_unread(
    socket_enabled: None, header: dict[str, object]
) -> None:
    async with announces(header) as (port, sent):
        client = WyomingClient("127.0.0.1", port, timeout=5)
        with pytest.raises(ProviderResponseError, match="not a Wyoming server"):
            await _ask(client, str(header["type"]))
    assert sent[-1] < 16 * MIB


async def _ask(client: WyomingClient, answered_by: str) -> None:
    if answered_by == "info":
        await client.describe()
    else:
        _ = [chunk async for chunk in client.synthesize("Hello.")]
