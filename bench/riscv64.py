"""RISC-V figures: the speech gate on a quiet and a talkative hour, and what emulation costs.

Run: .venv/bin/python bench/riscv64.py [--gate-only]
Writes bench/results/riscv64.json and bench/results/riscv64.md.

1. The gate: each synthetic hour (tests/riscv64/household.py: espeak-ng and Piper speech,
   silence, noise, wake-word requests) goes through `SpeechGate` as the satellite feeds it
   (2,048-byte reads). Measured: the share of the audio that leaves the board; the wake words
   whose audio passed whole; what the hub's engine (openWakeWord's Wyoming server, .venv-wake)
   detects in what was sent, against each wake word sent ungated (with 5 s either side); and
   the gate's CPU per second of audio here.
2. Emulation: tests/riscv64 run once (`ANIMA_RISCV64_TIMINGS`); their durations on the emulated
   board (start, the docs' install, satellite start-up, one voice turn, the formant voice, the
   gate's CPU per second of audio under qemu) and the run's wall time.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
import subprocess
import sys
import tempfile
import time
from typing import Any

from common import ROOT, environment, write_results

sys.path.insert(0, str(ROOT))

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.wake import Detect

from anima_satellite.gate import SpeechGate
from scripts.hassctl import free_port
from tests.fixtures.speech_servers import _answers_describe
from tests.riscv64.household import RATE, WAKE_MODEL, Recording, Voices, hour, pcm16

CHUNK = 2048
CONTEXT_S = 5.0  # ungated baseline: each wake word with this much either side
#: A detection within this window of a wake word (seconds before its start, after its end) is it.
MATCH = (0.5, 2.0)
HOURS = ("quiet", "talkative")
EMULATION_LABELS = {
    "tests": ("tests/riscv64", ""),
    "tests_wall_s": ("tests/riscv64, wall time", " s"),
    "install_s": ("the docs' install steps (venv, pip: wyoming, zeroconf from source)", " s"),
    "satellite_start_s": ("`anima-satellite` start-up until it answers (slowest)", " s"),
    "voice_turn_s": ("one voice turn: adopted, question, reply played on the board", " s"),
    "formant_start_s": ("`anima-formant` start-up", " s"),
    "formant_sentence_s": ("one formant sentence (espeak-ng on the board)", " s"),
    "gate_cpu_ms_per_audio_s_emulated": ("speech gate CPU per second of audio", " ms"),
    "board_start_s": ("board start (namespace, binfmt, overlay)", " s"),
}
PACE = 8.0  # times real time: openWakeWord's server keeps up at this pace on 2 cores


async def _detections(port: int, chunks: list[tuple[int, bytes]]) -> list[float]:
    """openWakeWord's detections (seconds, by the audio's own timestamps) in `chunks`."""
    found: list[float] = []
    async with AsyncTcpClient("127.0.0.1", port) as client:
        await client.write_event(Detect(names=[WAKE_MODEL]).event())
        await client.write_event(AudioStart(RATE, 2, 1).event())

        async def read() -> None:
            while (event := await client.read_event()) is not None:
                if event.type == "detection":
                    found.append(float((event.data or {}).get("timestamp") or 0) / 1000)
                elif event.type == "not-detected":
                    return

        reader = asyncio.create_task(read())
        for n, (stamp, audio) in enumerate(chunks):
            await client.write_event(AudioChunk(RATE, 2, 1, audio, timestamp=stamp).event())
            if n % 16 == 15:
                await asyncio.sleep(16 * CHUNK / (RATE * 2) / PACE)
        await client.write_event(AudioStop().event())
        try:
            await asyncio.wait_for(reader, 30)
        except TimeoutError:
            reader.cancel()  # it answers `not-detected` only when nothing was detected
    return found


def _matched(detections: list[float], spans: list[tuple[float, float]]) -> tuple[int, int]:
    """(wake words detected, detections that match no wake word)."""
    hit = {
        n for n, (a, b) in enumerate(spans) for t in detections if a - MATCH[0] <= t <= b + MATCH[1]
    }
    stray = [t for t in detections if not any(a - MATCH[0] <= t <= b + MATCH[1] for a, b in spans)]
    groups = len({round(t) for t in stray})  # one stray activation fires a few times in a row
    return len(hit), groups


async def _gate_figures(name: str, recording: Recording, port: int) -> dict[str, Any]:
    pcm = pcm16(recording.audio)
    chunks = [(at * 1000 // (RATE * 2), pcm[at : at + CHUNK]) for at in range(0, len(pcm), CHUNK)]
    by_identity = {id(audio): (stamp, audio) for stamp, audio in chunks}
    gate = SpeechGate()
    sent: list[tuple[int, bytes]] = []
    cpu = time.process_time()
    for _, audio in chunks:
        sent.extend(by_identity[id(out)] for out in gate.feed(audio))
    cpu_s = time.process_time() - cpu
    sent_ms = {stamp for stamp, _ in sent}
    step_ms = CHUNK * 1000 // (RATE * 2)
    whole = sum(
        all(
            ms in sent_ms
            for ms in range(int(a * 1000) // step_ms * step_ms, int(b * 1000), step_ms)
        )
        for a, b in recording.wake_words
    )
    gated_hits, gated_stray = _matched(await _detections(port, sent), recording.wake_words)
    ungated_hits = 0
    for a, b in recording.wake_words:
        window = [c for c in chunks if a - CONTEXT_S <= c[0] / 1000 <= b + CONTEXT_S]
        ungated_hits += _matched(await _detections(port, window), [(a, b)])[0]
    return {
        "hour": name,
        "seconds": recording.seconds,
        "speech_s": round(recording.speech_s),
        "sent_s": round(gate.sent_s),
        "sent_percent": round(gate.share, 1),
        "wake_words": len(recording.wake_words),
        "wake_words_sent_whole": whole,
        "openwakeword_detected_gated": gated_hits,
        "openwakeword_detected_ungated": ungated_hits,
        "openwakeword_false_activations_gated": gated_stray,
        "gate_cpu_ms_per_audio_s": round(cpu_s / recording.seconds * 1000, 3),
    }


def gate_benchmark() -> list[dict[str, Any]]:
    """The gate on both hours, with openWakeWord as the hub's engine."""
    port = free_port()
    python = ROOT / ".venv-wake" / "bin" / "python"
    server = subprocess.Popen(
        [str(python), "-m", "wyoming_openwakeword", "--uri", f"tcp://127.0.0.1:{port}",
         "--preload-model", WAKE_MODEL],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        while not _answers_describe(port):
            time.sleep(0.2)
        voices = Voices()
        return [asyncio.run(_gate_figures(kind, hour(kind, voices), port)) for kind in HOURS]
    finally:
        server.terminate()
        server.wait()


def emulation_benchmark() -> dict[str, Any]:
    """Run tests/riscv64 once; their emulated durations."""
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "timings.json"
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "tests/riscv64", "-q", "-p", "no:cacheprovider"],
            env={**os.environ, "ANIMA_RISCV64_TIMINGS": str(out)},
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.monotonic() - started
        summary = (
            done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-500:]
        )
        timings = json.loads(out.read_text()) if out.exists() else {}
    return {
        "tests": summary,
        "tests_wall_s": round(wall),
        **{k: round(v, 2) for k, v in timings.items()},
    }


def markdown(gate: list[dict[str, Any]], emulation: dict[str, Any] | None) -> str:
    """The tables."""
    lines = [
        "| hour | audio sent | wake words sent whole | openWakeWord on it: gated / ungated "
        "| false activations (gated) | gate CPU per audio second |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in gate:
        words = row["wake_words"]
        lines.append(
            f"| {row['hour']} | {row['sent_percent']}% ({row['sent_s']} of {row['seconds']:.0f} s)"
            f" | {row['wake_words_sent_whole']}/{words}"
            f" | {row['openwakeword_detected_gated']} / {row['openwakeword_detected_ungated']}"
            f" of {words} | {row['openwakeword_false_activations_gated']}"
            f" | {row['gate_cpu_ms_per_audio_s']} ms |"
        )
    if emulation:
        lines += ["", "| on the emulated riscv64 board (qemu user mode) | measured |", "|---|---:|"]
        lines += [
            f"| {label} | {emulation[key]}{unit} |"
            for key, (label, unit) in EMULATION_LABELS.items()
            if key in emulation
        ]
    return "\n".join(lines) + "\n"


def main() -> int:
    """Run and write the results."""
    gate = gate_benchmark()
    emulation = None if "--gate-only" in sys.argv else emulation_benchmark()
    write_results(
        "riscv64",
        {"environment": environment(), "gate": gate, "emulation": emulation},
        markdown(gate, emulation),
    )
    print(markdown(gate, emulation))
    return 0


if __name__ == "__main__":
    sys.exit(main())
