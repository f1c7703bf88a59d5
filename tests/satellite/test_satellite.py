"""The satellite on its own, on a real socket, spoken to as Home Assistant does."""

from __future__ import annotations

import ast
import asyncio
from collections.abc import AsyncIterator, Callable
import contextlib
import logging
from pathlib import Path
import re
import signal
import sys
import time
import wave

import pytest
import pytest_asyncio
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.info import Describe, Info
from wyoming.ping import Ping, Pong
from wyoming.pipeline import RunPipeline
from wyoming.satellite import PauseSatellite, RunSatellite
from wyoming.snd import Played
from wyoming.timer import TimerFinished

from anima_satellite.satellite import SatelliteSettings, SpeakerTiming, serve
from custom_components.anima.core.speech.earcons import SAMPLE_RATE, earcon_pcm
from scripts.hassctl import free_port
from tests.satellite.helpers import rss_mib, until_listening


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
    settings = SatelliteSettings(name="Hall", mic_file=mic, realtime=False, played=[])
    async with serving(settings) as port:
        yield port, settings


@contextlib.asynccontextmanager
async def serving(settings: SatelliteSettings) -> AsyncIterator[int]:
    """The satellite on a free loopback port while the block lasts."""
    port = free_port()
    task = asyncio.create_task(serve(f"tcp://127.0.0.1:{port}", settings))
    try:
        await until_listening(port)
        yield port
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


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


async def test_sigterm_stops_the_satellite_and_its_endpoint_service(
    socket_enabled: None, tmp_path: Path
) -> None:
    """What `systemctl stop` does: the process ends cleanly, not after systemd's SIGKILL."""
    ports = free_port(), free_port()
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "anima-satellite"),
        *("--uri", f"tcp://127.0.0.1:{ports[0]}", "--service-uri", f"tcp://127.0.0.1:{ports[1]}"),
        *("--mic-command", "sleep 60", "--key-file", str(tmp_path / "endpoint.key")),
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


# --- reply audio plays as it arrives; nothing is kept ----------------------------------------


async def _wait_for(probe: Callable[[], bool], what: str, seconds: float = 10) -> None:
    async with asyncio.timeout(seconds):
        while not probe():
            await asyncio.sleep(0.02)
    assert probe(), what


async def test_reply_audio_plays_as_it_arrives(tmp_path: Path, socket_enabled: None) -> None:
    """The first chunk reaches the playback command before the reply has ended."""
    heard, finished = tmp_path / "heard.raw", tmp_path / "finished"
    command = ["sh", "-c", 'cat > "$0"; touch "$1"', str(heard), str(finished)]
    settings = SatelliteSettings(name="Hall", mic_command=["sleep", "60"], snd_command=command)
    first, second = b"\1\0" * 22050, b"\2\0" * 22050  # a second each
    async with serving(settings) as port, AsyncTcpClient("127.0.0.1", port) as client:
        await client.write_event(AudioStart(22050, 2, 1).event())
        await client.write_event(AudioChunk(22050, 2, 1, first).event())

        def started() -> bool:
            return heard.exists() and heard.stat().st_size == len(first)

        await _wait_for(started, "the first chunk plays before audio-stop")
        await client.write_event(AudioChunk(22050, 2, 1, second).event())
        await client.write_event(AudioStop().event())
        assert Played.is_type((await client.read_event()).type)
        assert finished.exists()  # `played` came once the playback command had finished
    assert heard.read_bytes() == first + second
    assert settings.played is None  # nothing recorded unless a test asks


async def test_speaker_timing_from_the_satellites_clock(
    satellite: tuple[int, SatelliteSettings], caplog: pytest.LogCaptureFixture
) -> None:
    """End of the request (its last microphone chunk) and the reply's first sample played."""
    caplog.set_level(logging.DEBUG, logger="anima_satellite.satellite")
    port, settings = satellite
    timings: list[SpeakerTiming] = []
    settings.on_timing = timings.append
    async with AsyncTcpClient("127.0.0.1", port) as client:
        await client.write_event(RunSatellite().event())
        while not AudioStop.is_type((await client.read_event()).type):
            pass  # the spoken file, then its trailing silence
        heard_all = time.monotonic()
        for _ in range(2):  # an answer, then an announcement (no request before it)
            await client.write_event(AudioStart(22050, 2, 1).event())
            await client.write_event(AudioChunk(22050, 2, 1, b"\2\0" * 100).event())
            await client.write_event(AudioStop().event())
            assert Played.is_type((await client.read_event()).type)
    answer, announcement = timings
    assert answer.speech_end is not None
    assert answer.speech_end < heard_all < answer.first_sample
    assert answer.delay_ms == (answer.first_sample - answer.speech_end) * 1000
    assert announcement.speech_end is None
    line = re.search(
        r"speaker-timing speech_end=([\d.]+) first_sample=([\d.]+) delay_ms=", caplog.text
    )
    assert line is not None
    assert (float(line[1]), float(line[2])) == pytest.approx(
        (answer.speech_end, answer.first_sample), abs=1e-6
    )
    assert "speaker-timing speech_end=- " in caplog.text


async def test_played_replies_are_not_kept_in_memory(tmp_path: Path, socket_enabled: None) -> None:
    """A real satellite process plays 40 replies of a MiB each: its memory does not grow by them."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "anima-satellite"),
        *("--uri", f"tcp://127.0.0.1:{port}", "--mic-command", "sleep 600"),
        *("--snd-file", "/dev/null"),
        stderr=asyncio.subprocess.DEVNULL,
    )
    reply = b"\3\0" * (512 * 1024)  # 1 MiB, about 24 s at 22,050 Hz

    async def play_replies(count: int) -> None:
        async with AsyncTcpClient("127.0.0.1", port) as client:
            for _ in range(count):
                await client.write_event(AudioStart(22050, 2, 1).event())
                for start in range(0, len(reply), 2048):  # Home Assistant's chunk size
                    await client.write_event(
                        AudioChunk(22050, 2, 1, reply[start : start + 2048]).event()
                    )
                await client.write_event(AudioStop().event())
                assert Played.is_type((await client.read_event()).type)

    try:
        await until_listening(port)
        await play_replies(2)  # warm up: imports, buffers
        before = rss_mib(process.pid)
        await play_replies(40)
        growth = rss_mib(process.pid) - before
    finally:
        process.terminate()
        await process.wait()
    assert growth < 10, f"the satellite grew by {growth:.1f} MiB over 40 MiB of replies"
