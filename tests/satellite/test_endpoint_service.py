"""The endpoint service on a real socket: describe, camera frames, earcons, errors; and the
protocol table in docs/protocol.md agreeing with protocol.py (both sides' one source)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
import re
from typing import Any

from PIL import Image
import pytest
import pytest_asyncio

from anima_satellite import protocol as satellite_protocol
from anima_satellite.endpoint_service import ServiceSettings, serve
from custom_components.anima import protocol
from custom_components.anima.core.speech.earcons import SAMPLE_RATE, earcon_pcm
from custom_components.anima.protocol import EndpointClient, EndpointError
from scripts.hassctl import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest_asyncio.fixture
async def service(
    tmp_path: Path, socket_enabled: None
) -> AsyncIterator[tuple[EndpointClient, ServiceSettings, list[tuple[bytes, int]]]]:
    image = tmp_path / "porch.jpg"
    Image.new("RGB", (640, 360), (10, 20, 30)).save(image, "JPEG")
    played: list[tuple[bytes, int]] = []

    async def play(pcm: bytes, rate: int) -> None:
        played.append((pcm, rate))

    settings = ServiceSettings(name="Porch", camera_image=image, satellite_port=10700, play=play)
    port = free_port()
    task = asyncio.create_task(serve(f"tcp://127.0.0.1:{port}", settings))
    await asyncio.sleep(0.1)
    yield EndpointClient("127.0.0.1", port), settings, played
    task.cancel()


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
