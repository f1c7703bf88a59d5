"""A satellite found the normal way: `anima-satellite --zeroconf` on this machine's network,
Home Assistant 2026.11 with its zeroconf integration discovers it, the user adds it, binds it as
an endpoint, and its camera shows up, fed by the endpoint service Anima found over zeroconf."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
import sys
from typing import Any

from PIL import Image
import pytest
import pytest_asyncio

from scripts.hassctl import HassHTTPError, HassProcess, chain_options, free_port, select_options
from tests.e2e.test_smoke import wait_for_state, wyoming_steps
from tests.fixtures.speech_servers import SpeechServer

SATELLITE = Path(sys.executable).parent / "anima-satellite"


async def _until[T](what: str, probe: Callable[[], Awaitable[T | None]], seconds: float = 60) -> T:
    async with asyncio.timeout(seconds):
        while (found := await probe()) is None:
            await asyncio.sleep(0.5)
    assert found is not None, what
    return found


@pytest_asyncio.fixture
async def zeroconf_hass(tmp_path: Path, piper_server: SpeechServer) -> AsyncIterator[HassProcess]:
    """A real hass that browses mDNS, with Anima's hub and a voice (an endpoint needs one)."""
    hass = HassProcess(
        tmp_path / "config", port=free_port(), extra_config="zeroconf:\n", start_timeout=240
    )
    async with hass:
        piper = await hass.config_flow("anima", wyoming_steps(piper_server.host, piper_server.port))
        hub = await hass.config_flow("anima", [{"next_step_id": "hub"}])
        for entry in (piper, hub):
            await wait_for_state(hass, entry["result"]["entry_id"], "loaded")
        voice = await hass.subentry_flow(
            hub["result"]["entry_id"],
            "voice",
            lambda form: {"name": "Voice", "chain": [chain_options(form)[0][0]]},
        )
        assert voice["type"] == "create_entry", voice
        yield hass


async def test_a_satellite_announced_over_zeroconf_is_adopted_bound_and_shows_its_camera(
    zeroconf_hass: HassProcess, tmp_path: Path
) -> None:
    address = await asyncio.create_subprocess_exec(  # outside this process's socket guard
        sys.executable,
        "-c",
        "from anima_satellite.discovery import outward_address; print(outward_address())",
        stdout=asyncio.subprocess.PIPE,
    )
    outward = (await address.communicate())[0].decode().strip()
    if outward.startswith("127."):
        pytest.skip("this machine has no network interface for mDNS")
    image = tmp_path / "porch.jpg"
    Image.new("RGB", (640, 480), (220, 120, 20)).save(image, "JPEG")
    satellite_port, service_port = free_port(), free_port()
    key_file = tmp_path / "endpoint.key"
    printed = await asyncio.create_subprocess_exec(  # what the user runs on the board
        str(SATELLITE), "--key-file", str(key_file), "--print-key", stdout=asyncio.subprocess.PIPE
    )
    key = (await printed.communicate())[0].decode().strip()
    process = await asyncio.create_subprocess_exec(
        str(SATELLITE),
        "--name",
        "Porch",
        "--uri",
        f"tcp://0.0.0.0:{satellite_port}",
        "--service-uri",
        f"tcp://0.0.0.0:{service_port}",
        "--camera-image",
        str(image),
        "--key-file",
        str(key_file),
        "--allow",  # Home Assistant comes from this machine's network address
        outward,
        "--mic-command",
        "sleep 3600",  # a microphone that stays silent
        "--zeroconf",
    )
    hass = zeroconf_hass
    try:

        async def discovered() -> dict[str, Any] | None:
            flows = await hass.websocket({"type": "config_entries/flow/progress"})
            return next((f for f in flows if f["handler"] == "wyoming"), None)

        flow = await _until("Home Assistant discovers the satellite", discovered)
        assert flow["context"]["source"] == "zeroconf"
        adopted = await hass.request(
            "POST", f"/api/config/config_entries/flow/{flow['flow_id']}", {}
        )
        assert adopted["type"] == "create_entry", adopted
        devices = await hass.websocket({"type": "config/device_registry/list"})
        (device,) = [
            d for d in devices if d.get("primary_config_entry") == adopted["result"]["entry_id"]
        ]
        hub = next(e for e in await hass.entries("anima") if e["title"] == "Anima")
        bound = await hass.subentry_flow(
            hub["entry_id"],
            "endpoint",
            lambda form: {
                "device_id": device["id"],
                "voice": select_options(form, "voice")[0][0],
                "service_key": key,
            },
        )
        assert bound["type"] == "create_entry", bound  # the device, its voice and the key

        async def camera_frame() -> bytes | None:
            try:
                return await hass.request_bytes("GET", "/api/camera_proxy/camera.porch_camera")
            except HassHTTPError:
                return None  # not there yet

        assert await _until("the endpoint's camera gives a frame", camera_frame) == (
            image.read_bytes()
        )
    finally:
        process.terminate()
        await process.wait()


pytestmark = pytest.mark.timeout(600)
