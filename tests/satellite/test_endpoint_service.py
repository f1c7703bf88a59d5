"""The endpoint service on a real socket: describe, camera frames, earcons, errors; and the
protocol table in docs/protocol.md agreeing with protocol.py (both sides' one source)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import contextlib
import logging
from pathlib import Path
import re
import subprocess
import sys
from typing import Any

from PIL import Image
import pytest
import pytest_asyncio
from wyoming.event import Event, async_write_event

from anima_satellite import protocol as satellite_protocol
from anima_satellite.endpoint_service import ServiceSettings, serve
from anima_satellite.pairing import KeyFileError, load_or_create_key
from custom_components.anima import protocol
from custom_components.anima.core.speech.earcons import SAMPLE_RATE, earcon_pcm
from custom_components.anima.protocol import EndpointError, new_key, parse_key
from custom_components.anima.providers.endpoint import EndpointClient
from scripts.hassctl import free_port
from tests.fakes import hostile_clients

ROOT = Path(__file__).resolve().parents[2]
KEY = new_key()
SATELLITE = str(Path(sys.executable).parent / "anima-satellite")


@pytest_asyncio.fixture
async def service(
    tmp_path: Path, socket_enabled: None
) -> AsyncIterator[tuple[EndpointClient, ServiceSettings, list[tuple[bytes, int]]]]:
    image = tmp_path / "porch.jpg"
    Image.new("RGB", (640, 360), (10, 20, 30)).save(image, "JPEG")
    played: list[tuple[bytes, int]] = []

    async def play(pcm: bytes, rate: int) -> None:
        played.append((pcm, rate))

    settings = ServiceSettings(
        name="Porch", key=parse_key(KEY), camera_image=image, satellite_port=10700, play=play
    )
    port = free_port()
    task = asyncio.create_task(serve(f"tcp://127.0.0.1:{port}", settings))
    await asyncio.sleep(0.1)
    yield EndpointClient("127.0.0.1", port, key=KEY), settings, played
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_describe_says_what_the_endpoint_offers(service: Any) -> None:
    client, _, _ = service
    info = await client.describe()
    assert (info.name, info.camera, info.satellite_port) == ("Porch", True, 10700)
    assert info.version == protocol.PROTOCOL_VERSION
    assert "confirm" in info.earcons


async def test_a_frame_is_the_cameras_jpeg_with_its_size(service: Any) -> None:
    client, settings, _ = service
    frame = await client.capture()
    assert frame.jpeg == settings.camera_image.read_bytes()
    assert (frame.width, frame.height, frame.mime_type) == (640, 360, "image/jpeg")


async def test_a_camera_that_gives_no_image_is_a_clear_error(service: Any) -> None:
    client, settings, _ = service
    settings.camera_image.write_text("not a picture")
    with pytest.raises(EndpointError) as caught:
        await client.capture()
    assert caught.value.code == "not_an_image"
    settings.camera_image = None
    with pytest.raises(EndpointError) as caught:
        await client.capture()
    assert caught.value.code == "no_camera"


async def test_earcons_play_locally_and_unknown_ones_are_refused(service: Any) -> None:
    client, _, played = service
    await client.play_earcon("confirm")
    assert played == [(earcon_pcm("confirm"), SAMPLE_RATE)]
    with pytest.raises(EndpointError) as caught:
        await client.play_earcon("fanfare")
    assert caught.value.code == "unknown_earcon"


async def test_garbage_on_the_socket_does_not_stop_the_service(service: Any) -> None:
    client, _, _ = service
    _, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(b"\x00\xff not wyoming at all\n{]\n")
    await writer.drain()
    writer.close()
    assert (await client.describe()).name == "Porch"


async def test_an_unreachable_endpoint_is_a_clear_error(socket_enabled: None) -> None:
    with pytest.raises(EndpointError) as caught:
        await EndpointClient("127.0.0.1", free_port(), timeout=2).describe()
    assert caught.value.code == "unreachable"


def test_docs_and_both_sides_agree() -> None:
    assert (ROOT / "satellite/anima_satellite/protocol.py").resolve() == Path(
        protocol.__file__
    ).resolve()
    assert satellite_protocol.EVENTS == protocol.EVENTS
    table = (ROOT / "docs/protocol.md").read_text()
    documented = {
        name: tuple(re.findall(r"`(\w+)`", fields))
        for name, fields in re.findall(r"^\| `([a-z-]+)` \|[^|]+\|([^|]*)\|", table, re.M)
    }
    assert documented == dict(protocol.EVENTS)
    assert protocol.ZEROCONF_TYPE in table


# --- pairing: only the hub owns the endpoint ---------------------------------------------------


async def test_a_client_without_the_key_gets_nothing(service: Any) -> None:
    client, _, played = service
    for stranger in (
        EndpointClient(client.host, client.port),  # no key at all
        EndpointClient(client.host, client.port, key=new_key()),  # another endpoint's key
    ):
        for ask in (stranger.capture(), stranger.play_earcon("alert"), stranger.describe()):
            with pytest.raises(EndpointError) as caught:
                await ask
            assert caught.value.code == "unauthorized"
    assert played == []  # not a sound
    # On the wire: the challenge, the refusal, the end; never a frame.
    probe = await hostile_clients.unauthenticated(hostile_clients.Target(client.host, client.port))
    assert probe.closed_by_server
    assert probe.received == ["anima-challenge", "error"]
    assert probe.error_codes == ["unauthorized"]


async def _authenticate(
    client: EndpointClient,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, Event]:
    """Do what the hub does by hand: read the challenge, send the proof; and the `anima-auth`."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    challenge = await protocol.read_event(reader, protocol.HUB_LIMITS)
    assert challenge is not None
    assert challenge.type == protocol.CHALLENGE
    hub_nonce = protocol.new_nonce()
    proof = protocol.hub_proof(parse_key(KEY), challenge.data["nonce"], hub_nonce)
    auth = Event(protocol.AUTH, {"nonce": hub_nonce, "proof": proof})
    await async_write_event(auth, writer)
    return reader, writer, auth


async def test_a_recorded_proof_does_not_open_another_connection(service: Any) -> None:
    client, _, _ = service
    limits = protocol.HUB_LIMITS
    reader, writer, recorded = await _authenticate(client)
    authed = await protocol.read_event(reader, limits)
    assert authed is not None
    assert authed.type == protocol.AUTHED  # the real hub's answer works here...
    writer.close()

    reader, writer = await asyncio.open_connection(client.host, client.port)
    assert (await protocol.read_event(reader, limits)) is not None  # a new challenge
    await async_write_event(recorded, writer)  # ...and is replayed on the next connection
    await async_write_event(Event(protocol.CAPTURE), writer)
    refused = await protocol.read_event(reader, limits)
    assert refused is not None
    assert (refused.type, refused.data.get("code")) == ("error", "unauthorized")
    assert await protocol.read_event(reader, limits) is None  # closed, no frame
    writer.close()


async def test_the_hub_does_not_believe_an_endpoint_without_the_key(socket_enabled: None) -> None:
    """A device that answers in the endpoint's place cannot prove the key: no frame is used."""

    async def impostor(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await async_write_event(Event(protocol.CHALLENGE, {"nonce": protocol.new_nonce()}), writer)
        await protocol.read_event(reader, protocol.SERVICE_LIMITS)  # the hub's auth
        await async_write_event(Event(protocol.AUTHED, {"proof": "00" * 32}), writer)
        await async_write_event(protocol.Frame(b"\xff\xd8fake", 1, 1).event(), writer)
        await reader.read()

    server = await asyncio.start_server(impostor, "127.0.0.1", 0)
    try:
        port = server.sockets[0].getsockname()[1]
        with pytest.raises(EndpointError) as caught:
            await EndpointClient("127.0.0.1", port, key=KEY).capture()
        assert caught.value.code == "unverified"
    finally:
        server.close()
        server.close_clients()
        await server.wait_closed()


async def test_unknown_events_are_answered_with_an_error(service: Any) -> None:
    client, _, _ = service
    limits = protocol.HUB_LIMITS
    reader, writer, _ = await _authenticate(client)
    await async_write_event(Event("anima-teleport", {"to": "mars"}), writer)
    await async_write_event(Event(protocol.DESCRIBE), writer)
    answers = [await protocol.read_event(reader, limits) for _ in range(3)]
    writer.close()
    assert [event.type for event in answers if event] == ["anima-authed", "error", "anima-info"]
    assert answers[1] is not None
    assert answers[1].data["code"] == "unknown_event"


async def test_the_key_is_in_no_log_and_no_repr(
    service: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client, _, _ = service
    await client.describe()
    with pytest.raises(EndpointError):
        await EndpointClient(client.host, client.port, key=new_key()).describe()
    with pytest.raises(EndpointError) as caught:
        await EndpointClient(client.host, client.port, key="not a key at all").describe()
    assert caught.value.code == "invalid_key"
    assert "not a key at all" not in str(caught.value)
    assert KEY not in caplog.text
    assert KEY not in repr(client)
    assert "did not prove the pairing key" in caplog.text  # logged, without the key


def test_the_key_is_made_once_kept_private_and_printed(tmp_path: Path) -> None:
    path = tmp_path / "state" / "endpoint.key"
    key, made = load_or_create_key(path)
    assert made
    assert parse_key(key)
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_or_create_key(path) == (key, False)
    printed = subprocess.run(
        [SATELLITE, "--print-key", "--key-file", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert printed.stdout.strip() == key
    path.write_text("my secret wifi password\n")
    with pytest.raises(KeyFileError) as caught:
        load_or_create_key(path)
    assert "wifi" not in str(caught.value)
