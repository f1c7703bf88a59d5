"""The speech gate on this machine: what it lets through of silence, noise and speech.

The same module runs on the emulated riscv64 board in tests/riscv64/test_wake_on_the_hub.py.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
import subprocess
import sys

import numpy as np
import pytest
from wyoming.asr import Transcript
from wyoming.audio import AudioChunk
from wyoming.client import AsyncTcpClient
from wyoming.pipeline import RunPipeline
from wyoming.satellite import PauseSatellite, RunSatellite
from wyoming.wake import Detection

from anima_satellite.gate import RATE, WIDTH, GateSettings, SpeechGate
from anima_satellite.satellite import SatelliteSettings, serve
from anima_satellite.wake import LocalWakeWord
from scripts.hassctl import free_port
from tests.riscv64.household import Recording, at_level, espeak, pcm16, pink_noise

CHUNK = 2048  # bytes: what the satellite reads from its microphone at a time


def _through(gate: SpeechGate, audio: bytes, chunk: int = CHUNK) -> bytes:
    return b"".join(
        sent for at in range(0, len(audio), chunk) for sent in gate.feed(audio[at : at + chunk])
    )


def _room(seconds: float, dbfs: float = -55.0, seed: int = 1) -> Recording:
    return Recording(pink_noise(seconds, dbfs, np.random.default_rng(seed)))


@pytest.mark.parametrize("background", [-90.0, -55.0, -40.0])
def test_a_quiet_room_sends_nothing(background: float) -> None:
    gate = SpeechGate()
    assert _through(gate, pcm16(_room(120, background).audio)) == b""
    assert gate.heard_s == pytest.approx(120, abs=0.1)
    assert gate.sent_s == 0


def test_speech_is_sent_whole_with_the_second_before_it_and_little_more() -> None:
    room = _room(30)
    said = at_level(espeak("Okay Nabu. What is the capital of France?"), -26)
    end = room.add(10.0, said)
    gate = SpeechGate()
    sent = _through(gate, pcm16(room.audio))
    before = int((10.0 - 0.9) * RATE) * WIDTH  # a wake word may start softly: send before it
    assert pcm16(room.audio)[before : int(end * RATE) * WIDTH] in sent  # all of it, in order
    settings = GateSettings()
    most = len(said) / RATE + settings.pre_roll_s + settings.hangover_s + 0.3
    assert len(said) / RATE + 0.5 < gate.sent_s <= most
    assert gate.sent_s == pytest.approx(len(sent) / (RATE * WIDTH))


def test_a_wake_word_passes_the_gate_so_the_hubs_engine_still_hears_it(tmp_path: Path) -> None:
    # microWakeWord stands in for the hub's engine here (tests/riscv64 use openWakeWord).
    room = _room(40, -50)
    room.add(12.0, at_level(espeak("okay nabu"), -24))
    room.add(30.0, at_level(espeak("what is the capital of France"), -24))
    gate = SpeechGate()
    sent = _through(gate, pcm16(room.audio))
    assert gate.sent_s < 12  # two short utterances out of forty seconds
    wake = LocalWakeWord.load("okay_nabu")
    heard = [wake.heard(sent[at : at + CHUNK]) for at in range(0, len(sent), CHUNK)]
    assert heard.count(True) == 1


def test_a_fan_switched_on_opens_the_gate_only_until_it_is_background() -> None:
    room = _room(120, -60)
    room.add(30.0, pink_noise(90, -30, np.random.default_rng(2)))  # 30 dB louder, steady
    gate = SpeechGate()
    _through(gate, pcm16(room.audio))
    assert 0 < gate.sent_s < 20


def test_while_the_hub_listens_to_a_request_everything_passes_until_its_transcript() -> None:
    gate = SpeechGate()
    silence = bytes(CHUNK)
    assert gate.feed(silence) == []
    gate.hold(3.0)
    held = [gate.feed(silence) for _ in range(8)]  # 0.5 s
    assert all(held)
    gate.release()  # the transcript came
    assert gate.feed(silence) == []
    gate.hold(0.5)  # and if it never comes, the hold ends by itself
    passed = sum(bool(gate.feed(silence)) for _ in range(32))
    assert passed == pytest.approx(0.5 * RATE * WIDTH / CHUNK, abs=1)


@pytest.mark.parametrize("chunk", [1, 333, 1000, 4096])
def test_reads_of_any_size_give_the_same_decisions(chunk: int) -> None:
    room = _room(20)
    room.add(8.0, at_level(espeak("turn on the kitchen light"), -26))
    audio = pcm16(room.audio)
    reference = SpeechGate()
    _through(reference, audio)
    gate = SpeechGate()
    sent = _through(gate, audio, chunk)
    assert abs(gate.sent_s - reference.sent_s) < 0.2
    assert len(sent) == pytest.approx(gate.sent_s * RATE * WIDTH, abs=1)


SILENT_MICROPHONE = (
    "import sys, time\n"
    "while True:\n"
    "    sys.stdout.buffer.write(bytes(2048)); sys.stdout.buffer.flush(); time.sleep(0.064)\n"
)


async def _chunks_within(client: AsyncTcpClient, seconds: float) -> int:
    """How many audio chunks the satellite sends in the next `seconds`."""
    count = 0
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            while True:
                event = await client.read_event()
                assert event is not None
                count += AudioChunk.is_type(event.type)
    return count


async def test_the_gated_satellite_streams_the_request_from_the_hubs_detection_to_its_transcript(
    socket_enabled: None,
) -> None:
    settings = SatelliteSettings(
        name="Hall", mic_command=[sys.executable, "-c", SILENT_MICROPHONE], speech_gate=SpeechGate()
    )
    port = free_port()
    task = asyncio.create_task(serve(f"tcp://127.0.0.1:{port}", settings))
    await asyncio.sleep(0.1)
    try:
        async with AsyncTcpClient("127.0.0.1", port) as client:
            await client.write_event(RunSatellite().event())
            assert RunPipeline.from_event(await client.read_event()).start_stage == "wake"
            assert await _chunks_within(client, 1.0) == 0  # a silent room stays on the board
            await client.write_event(Detection(name="ok_nabu").event())  # the hub heard it
            assert await _chunks_within(client, 1.0) > 0  # the request streams, silence and all
            await client.write_event(Transcript(text="what time is it").event())
            await _chunks_within(client, 0.3)  # what was on its way
            assert await _chunks_within(client, 1.0) == 0
            await client.write_event(PauseSatellite().event())  # as Home Assistant leaves
    finally:
        task.cancel()
        microphones = [t for t in asyncio.all_tasks() if t.get_name() == "microphone"]
        await asyncio.wait_for(asyncio.gather(*microphones, return_exceptions=True), 10)


def test_the_gate_and_a_local_wake_word_are_not_both_taken() -> None:
    command = [sys.executable, "-m", "anima_satellite.satellite", "--mic-command", "true"]
    refused = subprocess.run(
        [*command, "--speech-gate", "--wake-word", "okay_nabu"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode == 2
    assert "--speech-gate is for waking on Home Assistant" in refused.stderr
