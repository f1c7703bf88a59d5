"""End of speech to first reply audio, through Home Assistant's real assist pipeline.

Run: .venv/bin/python bench/latency.py [turns]
Writes bench/results/latency.json and bench/results/latency.md.

The scenario (bench/scenarios/test_latency.py) runs in the test suite's harness: a real Home
Assistant with Anima's listener, agent and voice, and simulated providers that speak the real
wire protocols with scripted latency per profile (`zero`, `fast_cloud`, `typical_cloud`,
`slow_cloud`). Per profile: time to first audio over `turns` turns, the provider floor (ASR final +
LLM first token + the time to write the first 60 characters, after which the pipeline streams
to the voice, + TTS first chunk), the overhead above it, Anima's own milliseconds per stage (from
its per-turn timing), the same turns when the voice cannot take streamed text, and 50 turns at
once. The `local` profile (real Whisper and Piper) is not measured here: its provider times are
not scripted, so no overhead can be computed from it; the e2e tests run it.
"""

from __future__ import annotations

import sys
from typing import Any

from common import environment, run_scenario, write_results

TARGETS = {
    "hub_overhead_ms_p95": 20.0,
    "near_floor_ms": 100.0,
    "streaming_speedup": 2.0,
    "hub_overhead_ms_p95_50_satellites": 50.0,
}
CLOUD = ("fast_cloud", "typical_cloud", "slow_cloud")


def verdicts(data: dict[str, Any]) -> dict[str, bool]:
    speedup = data["ttfa_ms_p95_typical_cloud_nonstreaming"] / data["ttfa_ms_p95_typical_cloud"]
    data["streaming_speedup_typical_cloud"] = round(speedup, 2)
    return {
        "hub_overhead_ms_p95": data["hub_overhead_ms_p95"] <= TARGETS["hub_overhead_ms_p95"],
        **{
            f"near_floor_{name}": data[f"overhead_ms_p95_{name}"] <= TARGETS["near_floor_ms"]
            for name in CLOUD
        },
        "streaming_speedup": speedup >= TARGETS["streaming_speedup"],
        "hub_overhead_ms_p95_50_satellites": data["hub_overhead_ms_p95_50_satellites"]
        <= TARGETS["hub_overhead_ms_p95_50_satellites"],
    }


def markdown(data: dict[str, Any], met: dict[str, bool]) -> str:
    def mark(key: str) -> str:
        return "met" if met[key] else "missed"

    own = data["anima_own_ms_p95_fast_cloud"]
    lines = [
        "# Latency: end of speech to first audio",
        "",
        f"{data['turns']} turns per profile through a real assist pipeline (Anima's listener,"
        " agent, voice) with simulated providers (real HTTP and SSE, scripted latency).",
        "",
        "| profile | provider floor (ms) | time to first audio p95 (ms)"
        " | above the floor p95 (ms) | target | |",
        "|---|---:|---:|---:|---|---|",
    ]
    for name in ("zero", *CLOUD):
        target = "<= 20 ms (hub overhead)" if name == "zero" else "<= floor + 100 ms"
        key = "hub_overhead_ms_p95" if name == "zero" else f"near_floor_{name}"
        lines.append(
            f"| {name} | {data[f'provider_floor_ms_{name}']} | {data[f'ttfa_ms_p95_{name}']} |"
            f" {data[f'overhead_ms_p95_{name}']} | {target} | {mark(key)} |"
        )
    lines += [
        f"| typical_cloud, voice without streamed input | | "
        f"{data['ttfa_ms_p95_typical_cloud_nonstreaming']} | | streaming >= 2x faster"
        f" (measured {data['streaming_speedup_typical_cloud']}x) | {mark('streaming_speedup')} |",
        f"| fast_cloud, 50 satellites at once | | {data['ttfa_ms_p95_50_satellites']} |"
        f" {data['hub_overhead_ms_p95_50_satellites']} | <= 50 ms above the floor |"
        f" {mark('hub_overhead_ms_p95_50_satellites')} |",
        "",
        "Anima's own part, p95 per stage under fast_cloud (from its per-turn timing, which the"
        f" hub's diagnostics show): speech-to-text {own.get('stt')} ms, agent to first text"
        f" {own.get('llm')} ms, first sentence to first audio {own.get('tts')} ms.",
        "",
        "Why targets are missed: the time above the floor is mostly not Anima's code (a few"
        " milliseconds per stage, above) but Home Assistant's pipeline and the three HTTP"
        " round trips to the providers, which the zero profile measures on their own. Streamed"
        " against whole answers: the agent's answers are short by design (two sentences here), so"
        " waiting for the whole answer costs less than a second; the gain grows with the answer."
        " 50 turns at once: the simulated providers run in Home Assistant's own event loop here,"
        " so under that load they answer late themselves (LLM first token p95"
        f" {data['provider_ms_p95_50_satellites'].get('llm')} ms against 300 scripted, first"
        f" audio {data['provider_ms_p95_50_satellites'].get('tts')} ms against 150), while"
        " Anima's own stages stay at"
        f" {max(data['anima_own_ms_p95_50_satellites'].values())} ms p95 or less. A fair"
        " measurement needs the providers in another process; the figure is an upper bound.",
        "",
        f"{data['environment']['python']} on {data['environment']['machine']},"
        f" {data['environment']['cores']} cores.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    turns = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    data = {**run_scenario("latency", turns), "turns": turns, "environment": environment()}
    met = verdicts(data)
    data["targets_met"] = met
    write_results("latency", data, markdown(data, met))
    print(markdown(data, met))
    return 0 if all(met.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
