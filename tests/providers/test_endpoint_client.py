"""The hub's endpoint client: the satellite's real endpoint service listening on request, and
services that lie (no proof, a reflected proof, answers before the proof, endless headers).

(tests/satellite/test_endpoint_service.py covers describe, frames, earcons and the key.)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
import contextlib
from contextlib import asynccontextmanager

import pytest
from wyoming.event import Event, async_write_event

from anima_satellite.endpoint_service import ServiceSettings, serve
from custom_components.anima import protocol
from custom_components.anima.protocol import EndpointError, EndpointInfo, Frame, new_key, parse_key
from custom_components.anima.providers.endpoint import EndpointClient
from scripts.hassctl import free_port
from tests.satellite.helpers import until_listening

KEY = new_key()

type Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def _satellite(listen: Callable[[bool], Awaitable[str]]) -> AsyncIterator[EndpointClient]:
    """The satellite's real endpoint service on loopback, paired with KEY; the hub's client."""
    port = free_port()
    settings = ServiceSettings("Office", parse_key(KEY), listen=listen)
    task = asyncio.create_task(serve(f"tcp://127.0.0.1:{port}", settings))
    try:
        await until_listening(port)
        yield EndpointClient("127.0.0.1", port, key=KEY)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@asynccontextmanager
async def _liar(handler: Handler) -> AsyncIterator[EndpointClient]:
    """A service on loopback that plays `handler`; the hub's client, with KEY."""
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    try:
        yield EndpointClient("127.0.0.1", server.sockets[0].getsockname()[1], key=KEY)
    finally:
        server.close()
        server.close_clients()
        await server.wait_closed()


async def test_the_satellite_listens_on_request_and_says_what_was_heard(
    socket_enabled: None,
) -> None:
    asked: list[bool] = []

    async def listen(respond: bool) -> str:
        asked.append(respond)
        return "Yes please."

    async with _satellite(listen) as client:
        assert await client.listen(respond=False, timeout=10) == "Yes please."
        assert await client.listen(respond=True, timeout=10) == "Yes please."
        assert asked == [False, True]  # only transcribed, then answered as a turn
        assert repr(client) == f"EndpointClient(127.0.0.1:{client.port})"  # never the key


async def test_nobody_answering_in_time_is_a_timeout(socket_enabled: None) -> None:
    never = asyncio.Event()

    async def listen(respond: bool) -> str:
        await never.wait()
        return ""

    async with _satellite(listen) as client:
        with pytest.raises(EndpointError) as caught:
            await client.listen(respond=False, timeout=0.5)
        assert caught.value.code == "timeout"
        assert str(caught.value) == f"127.0.0.1:{client.port} did not answer"


async def test_a_key_of_the_wrong_length_is_not_a_key() -> None:
    """Refused before anything is sent (no socket: the test would fail on one)."""
    short = "c2hvcnQga2V5IG9mIDE2IGI="  # base64 of 16 bytes
    with pytest.raises(EndpointError) as caught:
        await EndpointClient("127.0.0.1", 1, key=short).describe()  # never reached
    assert caught.value.code == "invalid_key"
    assert short not in str(caught.value)


@pytest.mark.parametrize(
    "nonce",
    [None, 42, "abc", "zz" * protocol.NONCE_BYTES],
    ids=["none", "number", "short", "not-hex"],
)
async def test_a_challenge_without_a_real_nonce_is_refused(
    socket_enabled: None, nonce: object
) -> None:
    async def challenge(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await async_write_event(Event(protocol.CHALLENGE, {"nonce": nonce}), writer)
        await reader.read()

    async with _liar(challenge) as client:
        with pytest.raises(EndpointError) as caught:
            await client.describe()
    assert caught.value.code == protocol.BAD_EVENT


async def test_the_hubs_own_proof_reflected_back_proves_nothing(socket_enabled: None) -> None:
    """A device in the endpoint's place answers with the proof the hub just sent."""

    async def reflector(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await async_write_event(Event(protocol.CHALLENGE, {"nonce": protocol.new_nonce()}), writer)
        auth = await protocol.read_event(reader, protocol.SERVICE_LIMITS)
        assert auth is not None
        await async_write_event(Event(protocol.AUTHED, {"proof": auth.data["proof"]}), writer)
        await async_write_event(Frame(b"\xff\xd8fake", 1, 1).event(), writer)
        await reader.read()

    async with _liar(reflector) as client:
        with pytest.raises(EndpointError) as caught:
            await client.capture()
    assert caught.value.code == protocol.UNVERIFIED


async def test_answers_from_a_service_that_never_proves_the_key_are_not_taken(
    socket_enabled: None,
) -> None:
    async def no_challenge(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await async_write_event(EndpointInfo("Office", camera=True).event(), writer)
        writer.close()

    async def before_its_proof(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await async_write_event(Event(protocol.CHALLENGE, {"nonce": protocol.new_nonce()}), writer)
        await protocol.read_event(reader, protocol.SERVICE_LIMITS)  # the hub's auth
        await async_write_event(Frame(b"\xff\xd8fake", 1, 1).event(), writer)  # no `authed`
        writer.close()

    for handler, ask in ((no_challenge, "describe"), (before_its_proof, "capture")):
        async with _liar(handler) as client:
            with pytest.raises(EndpointError) as caught:
                await getattr(client, ask)()
        assert caught.value.code == "closed"
        assert str(caught.value) == f"127.0.0.1:{client.port} closed the connection"


@pytest.mark.parametrize(
    ("size", "said"),
    [
        (protocol.HUB_LIMITS.header + 1, f"has {protocol.HUB_LIMITS.header + 1} bytes"),
        (1_000_000, "is too long"),
    ],
    ids=["one-byte-over", "endless"],
)
async def test_a_header_longer_than_the_hub_reads_is_a_bad_event(
    socket_enabled: None, size: int, said: str
) -> None:
    async def long_header(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head, tail = b'{"type": "anima-challenge", "data": {"x": "', b'"}}\n'
        writer.write(head + b"x" * (size - len(head) - len(tail)) + tail)  # `size` bytes a line
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        await reader.read()

    async with _liar(long_header) as client:
        with pytest.raises(EndpointError) as caught:
            await client.describe()
    assert caught.value.code == protocol.BAD_EVENT
    assert said in str(caught.value)
