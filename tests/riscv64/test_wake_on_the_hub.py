"""A RISC-V board's wake word: the speech gate on the board (riscv64), openWakeWord on the hub.

The board runs `anima-satellite --speech-gate`: only sound well above the room's background
leaves it. Home Assistant's pipeline hands what arrives to its wake word engine (openWakeWord's
Wyoming server, as Home Assistant's openWakeWord add-on runs it), which wakes the turn.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
import re
import time
from typing import Any

import numpy as np
import pytest
from wyoming.audio import AudioChunk
from wyoming.client import AsyncTcpClient
from wyoming.pipeline import RunPipeline
from wyoming.satellite import RunSatellite

from anima_satellite.gate import SpeechGate
from scripts.hassctl import HassProcess, free_port
from tests.e2e.test_voice_loop import adopt_satellite, voice_hass
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.fixtures.speech_servers import SpeechServer
from tests.integration.anima_setup import anima_pipeline
from tests.integration.satellites import transcribe
from tests.riscv64.conftest import TIMINGS, InstalledSatellite, played_on_board, running
from tests.riscv64.household import (
    RATE,
    WAKE_MODEL,
    Recording,
    at_level,
    espeak,
    pcm16,
    pink_noise,
    piper,
)

__all__ = ["voice_hass"]  # the fixture, shared with tests/e2e
#: A microphone on the board: a raw 16 kHz recording played at the pace it was recorded, then
#: the silence of a quiet room for as long as the satellite listens.
PACED_MICROPHONE = """
import sys, time
data, step = open(sys.argv[1], "rb").read(), 2048
start, sent = time.monotonic(), 0
while True:
    sys.stdout.buffer.write(data[sent:sent + step] or bytes(step))
    sys.stdout.buffer.flush()
    sent += step
    time.sleep(max(0.0, start + sent / 32000 - time.monotonic()))
"""


def _room_with(seconds: float, *sounds: tuple[float, Any]) -> Recording:
    room = Recording(pink_noise(seconds, -55.0, np.random.default_rng(7)))
    for at_s, sound in sounds:
        room.add(at_s, at_level(sound, -26.0))
    return room


def test_the_gate_decides_on_riscv64_as_it_does_here(installed: InstalledSatellite) -> None:
    """The same minute of sound through the gate on the board and here: the same audio sent."""
    board = installed.board
    minute = _room_with(60.0, (20.0, espeak("Turn on the kitchen light, please.")))
    (board.share / "minute.raw").write_bytes(pcm16(minute.audio))
    here = SpeechGate()
    pcm = pcm16(minute.audio)
    for at in range(0, len(pcm), 2048):
        here.feed(pcm[at : at + 2048])
    measure = (
        "import sys, time\n"
        "from anima_satellite.gate import SpeechGate\n"
        "pcm, gate = open('/share/minute.raw', 'rb').read(), SpeechGate()\n"
        "cpu = time.process_time()\n"
        "for at in range(0, len(pcm), 2048): gate.feed(pcm[at:at + 2048])\n"
        "print(gate.sent_s, gate.heard_s, time.process_time() - cpu)\n"
    )
    (board.share / "measure.py").write_text(measure)
    sent_s, heard_s, cpu_s = map(
        float, board.run(f"{installed.bin('python')} /share/measure.py").stdout.split()
    )
    assert (sent_s, heard_s) == (here.sent_s, here.heard_s)
    assert 2 < sent_s < 8  # the sentence, not the minute
    TIMINGS["gate_cpu_ms_per_audio_s_emulated"] = cpu_s / heard_s * 1000


@asynccontextmanager
async def _gated_satellite(
    installed: InstalledSatellite, recording: Recording, name: str, *extra: str
) -> AsyncIterator[int]:
    """The gated satellite on the board, its microphone `recording` played in real time."""
    board = installed.board
    (board.share / f"{name}.raw").write_bytes(pcm16(recording.audio))
    (board.share / "paced_microphone.py").write_text(PACED_MICROPHONE)
    port = free_port()
    microphone = f"python3 /share/paced_microphone.py /share/{name}.raw"
    args = ["--name", name, "--uri", f"tcp://127.0.0.1:{port}", "--speech-gate"]
    async with running(
        installed, "anima-satellite", *args, "--mic-command", microphone, *extra,
        port=port, timing="satellite_start_s",
    ):  # fmt: skip
        yield port


async def test_only_speech_leaves_the_gated_riscv64_satellite(
    installed: InstalledSatellite, socket_enabled: None
) -> None:
    said = espeak("What is the capital of France?")
    room = _room_with(25.0, (8.0, said))
    async with (
        _gated_satellite(installed, room, "Hall") as port,
        AsyncTcpClient("127.0.0.1", port) as home_assistant,
    ):
        await home_assistant.write_event(RunSatellite().event())
        run = RunPipeline.from_event(await home_assistant.read_event())
        assert run.start_stage == "wake"  # Home Assistant's engine listens
        sent = 0
        started = time.monotonic()
        while time.monotonic() - started < room.seconds + 5:
            try:
                async with asyncio.timeout(1):
                    event = await home_assistant.read_event()
            except TimeoutError:
                continue
            if event is not None and AudioChunk.is_type(event.type):
                sent += len(AudioChunk.from_event(event).audio)
    sent_s = sent / (RATE * 2)
    assert len(said) / RATE < sent_s < len(said) / RATE + 3.5  # the question, not 25 s of room


async def _wake_on_openwakeword(hass: HassProcess, server: SpeechServer) -> None:
    """Add the wake word server to Home Assistant and make it the pipeline's wake word engine."""
    await adopt_satellite(hass, server.port)  # Home Assistant's Wyoming flow, as for a satellite
    engines: list[str] = []
    async with asyncio.timeout(60):
        while not engines:
            states = await hass.request("GET", "/api/states")
            engines = [s["entity_id"] for s in states if s["entity_id"].startswith("wake_word.")]
            await asyncio.sleep(0.5)
    (engine,) = engines
    pipelines = await hass.websocket({"type": "assist_pipeline/pipeline/list"})
    (pipeline,) = [p for p in pipelines["pipelines"] if p["name"] == "Anima"]
    update = {**anima_pipeline(), "type": "assist_pipeline/pipeline/update"}
    update |= {
        "pipeline_id": pipeline["id"],
        "wake_word_entity": engine,
        "wake_word_id": WAKE_MODEL,
    }
    await hass.websocket(update)


async def test_okay_nabu_through_the_gate_wakes_home_assistant_and_the_question_is_answered(
    voice_hass: HassProcess,
    installed: InstalledSatellite,
    wake_word_server: SpeechServer,
    openai_server: FakeOpenAIServer,
    whisper_server: SpeechServer,
) -> None:
    await _wake_on_openwakeword(voice_hass, wake_word_server)
    openai_server.reply(Reply.text("Paris is the capital of France."))
    (okay_nabu,) = piper("Okay Nabu.")
    room = _room_with(
        14.0,
        (3.0, okay_nabu),
        (3.0 + len(okay_nabu) / RATE + 0.5, espeak("What is the capital of France?")),
    )
    speaker = installed.board.share / "speaker-wake.raw"
    async with _gated_satellite(
        installed, room, "Kitchen", "--snd-file", f"/share/{speaker.name}"
    ) as port:
        await adopt_satellite(voice_hass, port)
        reply = await played_on_board(speaker, 240)
    chats = [r for r in openai_server.requests if r.path.endswith("/chat/completions")]
    assert chats, "the agent was never asked: the wake word was not heard"
    assert "capital of france" in " ".join(re.findall(r"[a-z]+", str(chats[-1].json).lower()))
    assert "capital of france" in await transcribe(whisper_server, (22050, 2, 1, reply))


pytestmark = pytest.mark.timeout(1800)
