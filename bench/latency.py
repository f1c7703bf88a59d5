"""End of speech to first reply audio: Anima against Home Assistant's own chain, in a real
Home Assistant, at the pipeline and at a real satellite's speaker.

Run: .venv/bin/python bench/latency.py [--turns N] [--only matrix,legacy,speaker,scale,local]
Writes bench/results/latency.json and bench/results/latency.md.

A real `hass` (Home Assistant 2026.11, .venv-hass; asyncio debug off, as Home Assistant runs)
with both stacks (bench/scenarios/stacks.py): Anima's listener, agent and voice, and core's
own OpenAI integration with its speech-to-text and text-to-speech, on one simulated provider
service in a process of its own (bench/providers.py: real HTTP and SSE, scripted latency per
profile). Its hands inside Home Assistant are bench/hass_component/anima_bench.

- matrix: per profile (zero, fast_cloud, typical_cloud), output (a browser's MP3, a Wyoming
  satellite's WAV, 16 kHz WAV) and answer (short, long: 8 sentences), turns through the assist
  pipeline, Anima and core alternating turn by turn; the clock runs inside Home Assistant from
  the end of the audio to the first byte of reply audio.
- legacy: the first benchmark's rows (slow_cloud; typical_cloud with a voice that waits for
  the whole answer).
- speaker: two of Anima's real satellites (bench/satellites.py, their own process), one on each
  stack, adopted by Home Assistant's Wyoming integration; each satellite times, on its own
  clock, its last microphone chunk of speech to the first reply sample written to its playback
  command. fast_cloud and typical_cloud, short and long.
- scale: 1, 10 and 50 satellites asking at the same moment (fast_cloud, Anima).
- local: real Whisper, the real local model (scripts/local-llm) and Piper, one satellite;
  turn 1 (a cold prompt) and the turns after it (each a new question, so Piper speaks every
  answer), with the floor each server's own time makes.
- ha_2026_10: the matrix's short answers (zero, fast_cloud) in Home Assistant 2026.10.4, the
  test harness's (bench/scenarios/test_latency.py), whose TTS manager converts differently.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
import json
import os
from pathlib import Path
import re
import statistics
import sys
import tempfile
import time
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import RESULTS, environment, run_scenario, write_results  # noqa: E402
from bench.latency_profiles import ANSWERS, PROFILES, QUESTIONS  # noqa: E402
from bench.latency_report import markdown, verdicts  # noqa: E402
from bench.processes import Providers, Satellites, cpu_seconds, speech_server  # noqa: E402
from scripts.hassctl import HassProcess, free_port  # noqa: E402
from tests.fixtures.local_llm import running_local_llm  # noqa: E402
from tests.fixtures.spoken import spoken  # noqa: E402

SECTIONS = ("matrix", "legacy", "speaker", "scale", "local", "ha_2026_10")
MATRIX = ["zero", "fast_cloud", "typical_cloud"]
SPEAKER = ("fast_cloud", "typical_cloud")
OUTPUTS: dict[str, Any] = {
    "default": None,
    "satellite": {
        "preferred_format": "wav",
        "preferred_sample_rate": 22050,
        "preferred_sample_channels": 1,
        "preferred_sample_bytes": 2,
    },
    "wav": "wav",
}
LENGTHS = ("short", "long")
SCALE = (1, 10, 50)
#: The local section's later questions (its first is QUESTIONS["short"], about France).
LOCAL_COUNTRIES = ("Spain", "Italy", "Germany", "Japan", "Canada", "Egypt", "Peru", "Norway")
_LLAMA_TOTAL = re.compile(r"total time =\s*([\d.]+) ms")


def p95(samples: list[float]) -> float:
    """The 95th percentile, rounded."""
    return round(statistics.quantiles(samples, n=100, method="inclusive")[94], 1)


def p50(samples: list[float]) -> float:
    """The median, rounded."""
    return round(statistics.median(samples), 1)


class Bench:
    """One Home Assistant with both stacks, and the provider service they share."""

    def __init__(self, hass: HassProcess, providers: Providers, folder: Path) -> None:
        """Drive `hass`, whose stacks talk to `providers`."""
        self.hass, self.providers, self.folder = hass, providers, folder
        self.pipelines: dict[str, str] = {}

    async def command(self, kind: str, **fields: Any) -> Any:
        """One of anima_bench's websocket commands."""
        return await self.hass.websocket({"type": f"anima_bench/{kind}", **fields})

    async def turn(self, stack: str, output: Any = None) -> float:
        """One turn through a stack's pipeline: ms to the first byte of reply audio."""
        fields = {"output": output} if output is not None else {}
        return float((await self.command("turn", pipeline=self.pipelines[stack], **fields))["ms"])

    @asynccontextmanager
    async def satellites(
        self, pipelines: list[str], *, realtime: bool = False
    ) -> AsyncIterator[Satellites]:
        """Real satellites, one per pipeline named, adopted; each has asked once (warm-up)."""
        ports = [free_port() for _ in pipelines]
        mic = spoken(self.folder, QUESTIONS["short"])
        async with Satellites(mic, ports, realtime=realtime) as satellites:
            adopted = await self.command("adopt", ports=ports, pipelines=pipelines)
            try:
                satellites.adoption = [
                    await satellites.replied(index, timeout=900) for index in range(len(ports))
                ]
                yield satellites
            finally:
                await self.command("release", entries=adopted["entries"])

    async def matrix(self, turns: int) -> dict[str, Any]:
        """Every profile, output and length at the pipeline, Anima and core alternating."""
        result: dict[str, Any] = {}
        for name in MATRIX:
            samples: dict[tuple[str, str, str], list[float]] = defaultdict(list)
            stages: dict[tuple[str, str, str, str], list[float]] = defaultdict(list)
            for length in LENGTHS:
                await self.providers.script(name, length)
                for output_name, output in OUTPUTS.items():
                    for stack in self.pipelines:  # warm up: connections, caches, the encoder
                        await self.turn(stack, output)
                    for turn in range(turns):
                        for stack in sorted(self.pipelines, reverse=bool(turn % 2)):
                            started = time.time()
                            ms = await self.turn(stack, output)
                            samples[stack, output_name, length].append(ms)
                            if stack == "anima":
                                for timing in await self.timings(since=started):
                                    for part in ("provider_ms", "own_ms"):
                                        key = (output_name, length, timing["stage"], part)
                                        stages[key].append(timing[part])
            latency, cells = PROFILES[name], {}
            for length in LENGTHS:
                for output_name in OUTPUTS:
                    anima = samples["anima", output_name, length]
                    core = samples["core", output_name, length]
                    cell = f"{name}_{output_name}_{length}"
                    result[f"anima_vs_core_p50_{cell}"] = round(p50(anima) / p50(core), 2)
                    cells[cell] = {
                        "anima_p50": p50(anima),
                        "anima_p95": p95(anima),
                        "core_p50": p50(core),
                        "core_p95": p95(core),
                        "floor": round(latency.floor_ms(ANSWERS[length]), 1),
                        "anima_stages_p50": {  # Anima's calls: the provider's part, its own
                            f"{stage}_{part}": p50(values)
                            for (o, n, stage, part), values in stages.items()
                            if (o, n) == (output_name, length)
                        },
                    }
            result[f"pipeline_ms_{name}"] = cells
            default = samples["anima", "default", "short"]
            floor = latency.floor_ms(ANSWERS["short"])
            result |= {  # the first benchmark's keys: Anima, a browser's MP3, short answers
                f"ttfa_ms_p95_{name}": p95(default),
                f"ttfa_ms_p50_{name}": p50(default),
                f"provider_floor_ms_{name}": round(floor, 1),
                f"overhead_ms_p95_{name}": p95([ms - floor for ms in default]),
                f"anima_own_ms_p95_{name}": await self.stages(),
            }
        if "ttfa_ms_p95_zero" in result:  # providers take no time: all of it is overhead
            result["hub_overhead_ms_p95"] = result["ttfa_ms_p95_zero"]
        return result

    async def legacy(self, turns: int) -> dict[str, Any]:
        """slow_cloud; typical_cloud when the voice waits for the whole answer; 50 turns at once
        at the pipeline (fast_cloud)."""
        await self.providers.script("slow_cloud", "short")
        await self.turn("anima")
        samples = [await self.turn("anima") for _ in range(turns)]
        floor = PROFILES["slow_cloud"].floor_ms(ANSWERS["short"])
        await self.providers.script("typical_cloud", "short")
        await self.command("streaming", on=False)
        try:
            await self.turn("anima")
            whole = [await self.turn("anima") for _ in range(turns)]
        finally:
            await self.command("streaming", on=True)
        floor_fast = PROFILES["fast_cloud"].floor_ms(ANSWERS["short"])
        await self.providers.script("fast_cloud", "short")
        crowds: dict[str, list[float]] = {}
        cpu: dict[str, float] = {}
        for stack in self.pipelines:
            await self.turn(stack)
            spent = self.cpu()
            crowd = await self.command("turns", pipeline=self.pipelines[stack], count=50)
            crowds[stack] = crowd["ms"]
            cpu[stack] = round((self.cpu()["hass"] - spent["hass"]) * 1000 / 50, 1)
        return {
            "ttfa_ms_p95_50_satellites": p95(crowds["anima"]),
            "ttfa_ms_min_50_satellites": round(min(crowds["anima"]), 1),
            "hub_overhead_ms_p95_50_satellites": p95([ms - floor_fast for ms in crowds["anima"]]),
            "core_ms_p95_50_turns": p95(crowds["core"]),
            "hass_cpu_ms_per_turn_50_turns": cpu,
            "provider_ms_p95_50_satellites": await self.stages("provider_ms_95"),
            "anima_own_ms_p95_50_turns": await self.stages(),
            "ttfa_ms_p95_slow_cloud": p95(samples),
            "ttfa_ms_p50_slow_cloud": p50(samples),
            "provider_floor_ms_slow_cloud": round(floor, 1),
            "overhead_ms_p95_slow_cloud": p95([ms - floor for ms in samples]),
            "ttfa_ms_p95_typical_cloud_nonstreaming": p95(whole),
        }

    async def speaker(self, turns: int) -> dict[str, Any]:
        """Two real satellites, on Anima and on core, asking in turn."""
        result: dict[str, Any] = {}
        async with self.satellites(["Anima", "Core"]) as satellites:
            for name in SPEAKER:
                latency = PROFILES[name]
                for length in LENGTHS:
                    await self.providers.script(name, length)
                    await satellites.ask(0)
                    await satellites.ask(1)  # warm up
                    anima: list[float] = []
                    core: list[float] = []
                    for turn in range(turns):
                        for index in (1, 0) if turn % 2 else (0, 1):
                            (ms,) = await satellites.ask(index)
                            (anima if index == 0 else core).append(ms)
                    suffix = name if length == "short" else f"long_{name}"
                    result |= {
                        f"ttfa_speaker_ms_p95_{suffix}": p95(anima),
                        f"ttfa_speaker_ms_p50_{suffix}": p50(anima),
                        f"core_speaker_ms_p95_{suffix}": p95(core),
                        f"core_speaker_ms_p50_{suffix}": p50(core),
                        f"anima_vs_core_speaker_p50_{name}_{length}": round(
                            p50(anima) / p50(core), 2
                        ),
                    }
                    if length == "short":
                        result[f"provider_floor_ms_{name}"] = round(
                            latency.floor_ms(ANSWERS[length]), 1
                        )
                    else:
                        result[f"provider_floor_ms_long_{name}"] = round(
                            latency.floor_ms(ANSWERS[length]), 1
                        )
        return result

    async def scale(self, turns: int) -> dict[str, Any]:
        """1, 10 and 50 satellites asking at the same moment (fast_cloud, Anima)."""
        await self.providers.script("fast_cloud", "short")
        result: dict[str, Any] = {}
        # As live microphones: 50 requests whose audio all came at once would measure Home
        # Assistant's voice activity detection of 50 whole requests, not 50 people speaking.
        async with self.satellites(["Anima"] * max(SCALE), realtime=True) as satellites:
            cpu: dict[str, dict[str, float]] = {}
            for count in SCALE:
                delays: list[float] = []
                spent = self.cpu(satellites)
                while len(delays) < max(turns, 2 * count):
                    delays += await satellites.ask(*range(count))
                label = "1_satellite" if count == 1 else f"{count}_satellites"
                result[f"ttfa_speaker_ms_p95_{label}"] = p95(delays)
                result[f"ttfa_speaker_ms_p50_{label}"] = p50(delays)
                cpu[label] = {  # CPU milliseconds per turn, by process
                    name: round((seconds - spent[name]) * 1000 / len(delays), 1)
                    for name, seconds in self.cpu(satellites).items()
                }
            result["cpu_ms_per_turn_at_the_speaker"] = cpu
        result["anima_own_ms_p95_50_satellites"] = await self.stages()
        return result

    async def local(self, turns: int) -> dict[str, Any]:
        """Real Whisper, the local model and Piper; turn 1 cold, then the turns after it."""
        folder = self.folder / "local"
        folder.mkdir()
        with (
            speech_server("whisper", folder / "whisper") as whisper,
            speech_server("piper", folder / "piper") as piper,
            running_local_llm(folder / "llm.log") as model,
        ):
            created = await self.command(
                "local",
                whisper=[whisper.host, whisper.port],
                piper=[piper.host, piper.port],
                model=[model.base_url, model.model],
            )
            self.pipelines["local"] = created["local"]
            await self.command("prefer", pipeline=created["local"])
            marks: list[tuple[float, int]] = [(time.time(), model.log_path.stat().st_size)]
            speaker: list[float] = []
            try:
                async with self.satellites(["Local"]) as satellites:
                    speaker.append(satellites.adoption[0])  # turn 1: a cold prompt
                    for turn in range(max(5, turns // 5)):
                        # A new question each turn: a repeated answer would be the speech
                        # caches' (Anima's, Home Assistant's), not Piper's.
                        country = LOCAL_COUNTRIES[turn % len(LOCAL_COUNTRIES)]
                        spoken(self.folder, f"What is the capital of {country}?")
                        marks.append((time.time(), model.log_path.stat().st_size))
                        (ms,) = await satellites.ask(0, timeout=900)
                        speaker.append(ms)
                    marks.append((time.time(), model.log_path.stat().st_size))
                    # Each turn's stage timings land by the time its reply has played.
                    timings = await self.timings(since=marks[0][0])
                    log = model.log_path.read_bytes()
                conversion = await self.conversion(created["voice"], turns)
            finally:
                await self.command("prefer", pipeline=self.pipelines["anima"])
        rounds = [
            _local_turn(ms, timings, marks[i], marks[i + 1], log) for i, ms in enumerate(speaker)
        ]
        later = rounds[1:]
        floors = [r["stt_ms"] + r["model_ms"] + r["tts_ms"] for r in later]
        return {
            "ttfa_speaker_ms_p50_local_turn2": p50([r["speaker_ms"] for r in later]),
            "ttfa_speaker_ms_p95_local_turn2": p95([r["speaker_ms"] for r in later]),
            "provider_floor_ms_p50_local_turn2": p50(floors),
            "ttfa_speaker_ms_local_turn1": round(rounds[0]["speaker_ms"], 1),
            "provider_floor_ms_local_turn1": round(
                rounds[0]["stt_ms"] + rounds[0]["model_ms"] + rounds[0]["tts_ms"], 1
            ),
            "local_turns": rounds,
            "piper_first_byte_ms_p50": conversion,
        }

    async def conversion(self, voice: str, turns: int) -> dict[str, float]:
        """Piper's first byte as a browser (MP3: Home Assistant's ffmpeg encodes), a Wyoming
        satellite and plain WAV ask for it: what the one conversion left costs."""
        firsts: dict[str, list[float]] = defaultdict(list)
        asked = {"mp3": {}, "satellite": OUTPUTS["satellite"], "wav": {"preferred_format": "wav"}}
        for turn in range(turns):
            for name, options in asked.items():
                spoken = await self.command(
                    "speak",
                    engine=voice,
                    message=f"The garage door closed at {turn} minutes past {name}.",
                    options=options,
                )
                if spoken["ms"] is not None and turn:  # the first of each: a warm-up
                    firsts[name].append(spoken["ms"])
        return {name: p50(values) for name, values in firsts.items()}

    def cpu(self, satellites: Satellites | None = None) -> dict[str, float]:
        """CPU seconds used so far by Home Assistant, the providers and the satellites."""
        pids = {"hass": self.hass.pid, "providers": self.providers.process.pid}
        if satellites is not None:
            pids["satellites"] = satellites.process.pid
        return {name: cpu_seconds(pid) for name, pid in pids.items() if pid is not None}

    async def timings(self, since: float) -> list[dict[str, Any]]:
        """Anima's stage timings since `since` (of its last 20)."""
        recent = (await self.command("timings"))["recent"]
        return [timing for timing in recent if timing["at"] >= since]

    async def stages(self, figure: str = "own_ms_95") -> dict[str, float]:
        """A figure per stage of Anima's last 100 stage timings (its own part, p95, by default)."""
        summary = (await self.command("timings"))["summary"]
        return {stage: summary[stage][figure] for stage in summary}


async def run(turns: int, sections: list[str]) -> dict[str, Any]:
    """Run the sections in one Home Assistant; return the figures."""
    data: dict[str, Any] = {}
    runs: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="anima-latency-") as scratch:
        folder = Path(scratch)
        async with Providers() as providers:
            os.environ["OPENAI_BASE_URL"] = providers.base_url  # core's OpenAI client
            config = folder / "config"
            link = config / "custom_components" / "anima_bench"
            link.parent.mkdir(parents=True)
            link.symlink_to(ROOT / "bench" / "hass_component" / "anima_bench")
            hass = HassProcess(config, port=free_port(), extra_config="anima_bench:\n")
            await hass.start()
            try:
                bench = Bench(hass, providers, folder)
                made = await bench.command("stacks", base_url=providers.base_url)
                bench.pipelines = {"anima": made["anima"], "core": made["core"]}
                data["asyncio_debug"] = made["asyncio_debug"]
                data["home_assistant"] = made["version"]
                for section in sections:
                    if section != "ha_2026_10":  # that one is not in this Home Assistant
                        async with _noted(runs, section, turns):
                            data |= await getattr(bench, section)(turns)
            except BaseException:
                print(hass.log_tail(200), file=sys.stderr)
                raise
            finally:
                await hass.stop()
    if "ha_2026_10" in sections:  # in the test harness's Home Assistant
        async with _noted(runs, "ha_2026_10", turns):
            data["ha_2026_10"] = await asyncio.to_thread(run_scenario, "latency", turns)
    data["runs"] = runs
    return data


def _local_turn(
    speaker_ms: float,
    timings: list[dict[str, Any]],
    start: tuple[float, int],
    end: tuple[float, int],
    log: bytes,
) -> dict[str, float]:
    """A local turn's figures: at the speaker, and what each server took.

    Whisper's transcription and Piper's first audio as Anima's calls timed them; the model's
    own total time from its log (the whole answer: a short one reaches the voice only once it
    is written).
    """
    stages = {t["stage"]: t["provider_ms"] for t in timings if start[0] <= t["at"] < end[0]}
    told = log[start[1] : end[1]].decode(errors="replace")  # what the model logged meanwhile
    return {
        "speaker_ms": round(speaker_ms, 1),
        "stt_ms": round(stages.get("stt", 0.0), 1),
        "model_ms": round(sum(map(float, _LLAMA_TOTAL.findall(told))), 1),
        "tts_ms": round(stages.get("tts", 0.0), 1),
    }


@asynccontextmanager
async def _noted(runs: dict[str, Any], section: str, turns: int) -> AsyncIterator[None]:
    """Note how long a section took and the machine's load around it (it is shared)."""
    started, load = time.monotonic(), os.getloadavg()[0]
    yield
    runs[section] = {
        "turns": turns,
        "seconds": round(time.monotonic() - started),
        "load_average": [round(load, 2), round(os.getloadavg()[0], 2)],
    }
    print(f"{section}: {runs[section]}", file=sys.stderr)


def main() -> int:
    """Run the benchmark; exit 1 when a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=30, help="turns per cell (30)")
    parser.add_argument("--only", default=",".join(SECTIONS), help="sections to run")
    parser.add_argument(
        "--profiles", default=",".join(MATRIX), help="the matrix's profiles (a quick look)"
    )
    parser.add_argument(
        "--merge", action="store_true", help="keep the other sections' figures in the results"
    )
    args = parser.parse_args()
    sections = [s for s in args.only.split(",") if s]
    if unknown := set(sections) - set(SECTIONS):
        parser.error(f"unknown sections {sorted(unknown)}; known: {', '.join(SECTIONS)}")
    MATRIX[:] = [p for p in args.profiles.split(",") if p in PROFILES]
    data = asyncio.run(run(args.turns, sections)) | {"environment": environment()}
    if args.merge and (kept := RESULTS / "latency.json").exists():
        old = json.loads(kept.read_text())  # the sections run before, then these
        data = old | data | {"runs": old.get("runs", {}) | data["runs"]}
    met = verdicts(data)
    data["targets_met"] = met
    write_results("latency", data, markdown(data, met))
    print(markdown(data, met))
    return 0 if all(met.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
