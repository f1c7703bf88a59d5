"""The satellite on its own, on a real socket, spoken to as Home Assistant does."""

from __future__ import annotations

import ast
import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
import signal
import sys
import wave

import pytest_asyncio
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.info import Describe, Info
from wyoming.ping import Ping, Pong
from wyoming.pipeline import RunPipeline
from wyoming.satellite import PauseSatellite, RunSatellite
from wyoming.snd import Played
from wyoming.timer import TimerFinished

from anima_satellite.satellite import SatelliteSettings, serve
from custom_components.anima.core.speech.earcons import SAMPLE_RATE, earcon_pcm
from scripts.hassctl import free_port


@pytest_asyncio.fixture
async def satellite(
    tmp_path: Path, socket_enabled: None
) -> AsyncIterator[tuple[int, SatelliteSettings]]:
    mic = tmp_path / "mic.wav"
    with wave.open(str(mic), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(16000)
        writer.writeframes(b"\1\0" * 16000)  # one second
    settings = SatelliteSettings(name="Hall", mic_file=mic, realtime=False)
    port = free_port()
    task = asyncio.create_task(serve(f"tcp://127.0.0.1:{port}", settings))
    await asyncio.sleep(0.1)
    yield port, settings
    task.cancel()


async def test_describe_ping_and_a_spoken_file(satellite: tuple[int, SatelliteSettings]) -> None:
    port, _ = satellite
    async with AsyncTcpClient("127.0.0.1", port) as client:
        await client.write_event(Describe().event())
        info = Info.from_event(await client.read_event())
        assert info.satellite is not None
        assert (info.satellite.name, info.satellite.installed) == ("Hall", True)
        await client.write_event(Ping(text="hi").event())
        assert Pong.from_event(await client.read_event()).text == "hi"
        await client.write_event(RunSatellite().event())
        run = RunPipeline.from_event(await client.read_event())
        assert (run.start_stage, run.end_stage) == ("asr", "tts")
        audio = bytearray()
        while AudioChunk.is_type((event := await client.read_event()).type):
            audio += AudioChunk.from_event(event).audio
        assert AudioStop.is_type(event.type)
        assert len(audio) >= 32000  # the second of speech, then trailing silence


async def test_reply_audio_is_played_and_acknowledged(
    satellite: tuple[int, SatelliteSettings],
) -> None:
    port, settings = satellite
    async with AsyncTcpClient("127.0.0.1", port) as client:
        await client.write_event(AudioStart(22050, 2, 1).event())
        await client.write_event(AudioChunk(22050, 2, 1, b"\2\0" * 100).event())
        await client.write_event(AudioStop().event())
        assert Played.is_type((await client.read_event()).type)
    assert settings.played == [(22050, 2, 1, b"\2\0" * 100)]


async def test_a_finished_timer_rings_with_an_earcon(
    satellite: tuple[int, SatelliteSettings],
) -> None:
    port, settings = satellite
    async with AsyncTcpClient("127.0.0.1", port) as client:
        await client.write_event(TimerFinished(id="pasta").event())
        await client.write_event(Ping().event())
        assert Pong.is_type((await client.read_event()).type)
    assert settings.played == [(SAMPLE_RATE, 2, 1, earcon_pcm("alert"))]


async def test_a_new_home_assistant_connection_replaces_the_stale_one(
    satellite: tuple[int, SatelliteSettings],
) -> None:
    port, settings = satellite
    gate = asyncio.Event()
    settings.speak_when = gate  # hold the first connection's microphone
    async with AsyncTcpClient("127.0.0.1", port) as stale:
        await stale.write_event(RunSatellite().event())
        assert RunPipeline.is_type((await stale.read_event()).type)
        first = settings.current
        async with AsyncTcpClient("127.0.0.1", port) as fresh:  # HA restarted
            await fresh.write_event(RunSatellite().event())
            assert RunPipeline.is_type((await fresh.read_event()).type)
            assert settings.current is not first
            gate.set()
            assert AudioChunk.is_type((await fresh.read_event()).type)
            await fresh.write_event(PauseSatellite().event())


async def test_sigterm_stops_the_satellite_and_its_endpoint_service(socket_enabled: None) -> None:
    """What `systemctl stop` does: the process ends cleanly, not after systemd's SIGKILL."""
    ports = free_port(), free_port()
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "anima-satellite"),
        *("--uri", f"tcp://127.0.0.1:{ports[0]}", "--service-uri", f"tcp://127.0.0.1:{ports[1]}"),
        *("--mic-command", "sleep 60"),
    )
    async with asyncio.timeout(20):
        for port in ports:  # both servers up
            while True:
                try:
                    async with AsyncTcpClient("127.0.0.1", port):
                        break
                except OSError:
                    await asyncio.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        assert await process.wait() == 0


def test_the_package_is_python_3_11_syntax() -> None:
    """Debian 12 boards have Python 3.11: nothing newer may slip into the satellite."""
    package = Path(__file__).parents[2] / "satellite" / "anima_satellite"
    for module in package.glob("*.py"):
        ast.parse(module.read_text(), str(module), feature_version=(3, 11))
