"""Hostile clients (tests/fakes/hostile_clients.py) against the satellite's two ports and the
formant voice, over real TCP: each is closed, the server serves the next client at once, nothing
grows, and a peer outside the allow-list cannot take the satellite from Home Assistant."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
import contextlib
from functools import partial
from ipaddress import ip_network
import json
import os
from pathlib import Path
import sys
from typing import Any

from PIL import Image
import pytest
import pytest_asyncio
from wyoming.audio import AudioChunk
from wyoming.client import AsyncTcpClient
from wyoming.pipeline import RunPipeline
from wyoming.satellite import RunSatellite

from anima_satellite.endpoint_service import ServiceSettings, serve as serve_endpoint
from anima_satellite.formant import Formant, FormantEventHandler
from anima_satellite.protocol import WireLimits, new_key, parse_key
from anima_satellite.satellite import SatelliteSettings, serve
from anima_satellite.serving import Guard, GuardedServer
from scripts.hassctl import free_port
from tests.fakes.hostile_clients import (
    FORMANT,
    PROBES,
    SATELLITE,
    SERVICE,
    Probe,
    ProbeResult,
    Target,
    probe_all,
    run_probe,
    well_behaved,
)
from tests.satellite.helpers import rss_mib, until_listening

ROOT = Path(__file__).resolve().parents[2]
KEY = new_key()
#: Short bounds, so that the slow-loris and idle probes end within seconds.
IDLE_S, WRITE_S = 2.0, 1.0
PROBE_LIMITS = WireLimits()


@contextlib.asynccontextmanager
async def _task(coroutine: Coroutine[Any, Any, None], port: int) -> AsyncIterator[None]:
    task = asyncio.create_task(coroutine)
    try:
        await until_listening(port)
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest_asyncio.fixture
async def satellite_port(socket_enabled: None) -> AsyncIterator[int]:
    """A satellite whose microphone never runs dry (for the reader that never reads)."""
    settings = SatelliteSettings(
        name="Hall",
        mic_command=["cat", "/dev/zero"],
        idle_timeout=IDLE_S,
        write_timeout=WRITE_S,
    )
    port = free_port()
    async with _task(serve(f"tcp://127.0.0.1:{port}", settings), port):
        yield port


@pytest_asyncio.fixture
async def service_port(tmp_path: Path, socket_enabled: None) -> AsyncIterator[int]:
    image = tmp_path / "porch.jpg"
    Image.new("RGB", (64, 48), (10, 20, 30)).save(image, "JPEG")
    settings = ServiceSettings(
        name="Porch", key=parse_key(KEY), camera_image=image, idle_timeout=IDLE_S
    )
    port = free_port()
    async with _task(serve_endpoint(f"tcp://127.0.0.1:{port}", settings), port):
        yield port


@pytest_asyncio.fixture
async def formant_port(socket_enabled: None) -> AsyncIterator[int]:
    formant = await Formant.load()
    formant.guard = Guard(
        "Formant voice",
        formant.guard.limits,
        allow=None,
        max_connections=formant.guard.max_connections,
        idle_timeout=IDLE_S,
        write_timeout=WRITE_S,
    )
    server = GuardedServer(formant.guard, partial(FormantEventHandler, formant))
    port = free_port()
    async with _task(server.serve(f"tcp://127.0.0.1:{port}"), port):
        yield port


def _check(result: ProbeResult) -> None:
    assert result.closed_by_server, f"{result.name}: still open after {result.seconds:.1f} s"
    assert result.served_after, f"{result.name}: an honest client was not served after it"


@pytest.mark.parametrize("probe", PROBES[SATELLITE], ids=lambda probe: probe.__name__)
async def test_the_satellite_port_closes_each_hostile_client(
    satellite_port: int, probe: Probe
) -> None:
    target = Target("127.0.0.1", satellite_port, SATELLITE, patience=IDLE_S + 6)
    _check(await run_probe(probe, target))


@pytest.mark.parametrize("probe", PROBES[SERVICE], ids=lambda probe: probe.__name__)
async def test_the_endpoint_service_closes_each_hostile_client(
    service_port: int, probe: Probe
) -> None:
    target = Target("127.0.0.1", service_port, SERVICE, key=KEY, patience=IDLE_S + 6)
    _check(result := await run_probe(probe, target))
    assert "anima-frame" not in result.received
    if probe.__name__ in {"unauthenticated", "replayed_proof"}:
        assert result.error_codes == ["unauthorized"]


@pytest.mark.parametrize("probe", PROBES[FORMANT], ids=lambda probe: probe.__name__)
async def test_the_formant_voice_closes_each_hostile_client(
    formant_port: int, probe: Probe
) -> None:
    target = Target("127.0.0.1", formant_port, FORMANT, patience=IDLE_S + 6)
    _check(await run_probe(probe, target))


# --- the Wyoming port: only Home Assistant's address ----------------------------------------


async def test_a_peer_outside_the_allow_list_cannot_take_the_satellite(
    socket_enabled: None,
) -> None:
    """An intruder's run-satellite gets nothing and does not stop Home Assistant's microphone."""
    settings = SatelliteSettings(
        name="Hall", mic_command=["cat", "/dev/zero"], allow=(ip_network("127.0.0.1/32"),)
    )
    port = free_port()
    async with (
        _task(serve(f"tcp://127.0.0.1:{port}", settings), port),
        AsyncTcpClient("127.0.0.1", port) as hub,
    ):
        await hub.write_event(RunSatellite().event())
        assert RunPipeline.is_type((await hub.read_event()).type)
        assert AudioChunk.is_type((await hub.read_event()).type)

        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, local_addr=("127.0.0.2", 0)
        )
        writer.write(b'{"type": "run-satellite"}\n{"type": "describe"}\n')
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        with contextlib.suppress(ConnectionError):
            assert await asyncio.wait_for(reader.read(), 5) == b""  # not a byte back
        writer.close()

        async with asyncio.timeout(5):  # Home Assistant's stream goes on
            for _ in range(50):
                assert AudioChunk.is_type((await hub.read_event()).type)
        assert settings.current is not None
        assert settings.current.peer == "127.0.0.1"


def test_allow_list_entries_are_addresses_or_networks() -> None:
    from anima_satellite.satellite import build_parser  # noqa: PLC0415

    args = build_parser().parse_args(["--allow", "192.168.1.10", "--allow", "10.0.0.0/8"])
    assert args.allow == [ip_network("192.168.1.10/32"), ip_network("10.0.0.0/8")]
    guard = Guard("Satellite", PROBE_LIMITS, allow=tuple(args.allow))
    assert guard.admits("192.168.1.10")
    assert guard.admits("::ffff:10.1.2.3")  # an IPv4 peer seen through a dual-stack socket
    assert not guard.admits("192.168.1.11")
    assert not guard.admits("fe80::1")


# --- a real satellite process -----------------------------------------------------------------

SATELLITE_COMMAND = str(Path(sys.executable).parent / "anima-satellite")
#: A satellite process with short bounds (the slow-loris and idle probes end in seconds).
LAUNCH = """
import asyncio, sys
from anima_satellite.endpoint_service import ServiceSettings, serve as serve_endpoint
from anima_satellite.protocol import parse_key
from anima_satellite.satellite import SatelliteSettings, serve
from anima_satellite.serving import run_until_one_stops
satellite, service, key = sys.argv[1:4]
settings = SatelliteSettings(
    name="Hall", mic_command=["cat", "/dev/zero"], idle_timeout=2, write_timeout=1
)
endpoint = ServiceSettings(name="Hall", key=parse_key(key), idle_timeout=2)
asyncio.run(run_until_one_stops([
    serve(f"tcp://127.0.0.1:{satellite}", settings),
    serve_endpoint(f"tcp://127.0.0.1:{service}", endpoint),
]))
"""


async def test_a_satellite_process_stays_bounded_under_every_probe(socket_enabled: None) -> None:
    """Every probe on both ports of a real satellite process: each is closed, the next client is
    served, and the process's memory (sampled throughout, peaks included) stays bounded."""
    ports = free_port(), free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-c", LAUNCH, str(ports[0]), str(ports[1]), KEY),
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT / "satellite")},
    )
    peak = 0.0

    async def sample() -> None:
        nonlocal peak
        while True:
            peak = max(peak, rss_mib(process.pid))
            await asyncio.sleep(0.02)

    growth: dict[str, float] = {}
    try:
        for port in ports:
            await until_listening(port)
        before = rss_mib(process.pid)
        sampler = asyncio.create_task(sample())
        results: list[ProbeResult] = []
        for port, kind in zip(ports, (SATELLITE, SERVICE), strict=True):
            target = Target("127.0.0.1", port, kind, key=KEY, patience=IDLE_S + 6)

            def after(result: ProbeResult, kind: str = kind) -> None:
                growth[f"{kind}/{result.name}"] = rss_mib(process.pid) - before

            results += await probe_all(target, after_each=after)
        sampler.cancel()
        peak_growth = peak - before
    finally:
        process.terminate()
        _, stderr = await process.communicate()
    log = stderr.decode()
    print(
        json.dumps(
            {
                "rss_before_mib": round(before, 2),
                "peak_growth_mib": round(peak_growth, 2),
                "growth_after_each_mib": {k: round(v, 2) for k, v in growth.items()},
            }
        )
    )
    for result in results:
        _check(result)
    assert peak_growth < 32, f"the satellite grew by {peak_growth:.1f} MiB at its peak"
    assert max(growth.values()) < 16
    assert "Traceback" not in log
    assert "Task exception was never retrieved" not in log


async def test_malformed_headers_are_one_log_line_each_never_a_traceback(
    tmp_path: Path, socket_enabled: None
) -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        SATELLITE_COMMAND,
        *("--uri", f"tcp://127.0.0.1:{port}", "--mic-command", "sleep 600"),
        stderr=asyncio.subprocess.PIPE,
    )
    malformed = [
        b"[]\n",
        b'"just a string"\n',
        b'{"no": "type"}\n',
        b'{"type": 5}\n',
        b'{"type": "describe", "data_length": "many"}\n',
        b'{"type": "audio-chunk", "payload_length": -1}\n',
        b'{"type": "describe", "data_length": 4}\n[1]\n',
        b'{"type": "describe", "data": [1, 2]}\n',
    ]
    try:
        await until_listening(port)
        for _ in range(3):  # the same offences again: counted, not logged again
            for line in malformed:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(line)
                await writer.drain()
                await asyncio.wait_for(reader.read(), 5)  # closed by the satellite
                writer.close()
        assert await well_behaved(Target("127.0.0.1", port, SATELLITE))
    finally:
        process.terminate()
        _, stderr = await process.communicate()
    log = stderr.decode()
    assert "Traceback" not in log
    assert "Task exception was never retrieved" not in log
    closed = [line for line in log.splitlines() if "127.0.0.1 closed:" in line]
    assert 1 <= len(closed) <= 2, closed  # one line per peer and reason a minute
