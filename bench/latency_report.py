"""The latency benchmark's targets (issues 4 and 15) and its Markdown table."""

from __future__ import annotations

from typing import Any, Final

#: Issue 15: at the speaker, p95 within this of the provider floor (fast and typical cloud).
SPEAKER_NEAR_FLOOR_MS: Final = 120.0
#: Issue 15: Anima / core p50 at most this in every cell; under fast_cloud, short and long.
RATIO_ANY: Final = 1.0
RATIO_FAST: Final = {"short": 0.8, "long": 0.45}
#: Issue 15: 50 satellites at once, p95 at the speaker within this of one satellite's.
CROWD_MS: Final = 50.0
#: The first benchmark's targets (at the pipeline).
HUB_OVERHEAD_MS: Final = 20.0
NEAR_FLOOR_MS: Final = 100.0
STREAMING_SPEEDUP: Final = 2.0
MATRIX: Final = ("zero", "fast_cloud", "typical_cloud")
OUTPUTS: Final = ("default", "satellite", "wav")
LENGTHS: Final = ("short", "long")
SPEAKER: Final = ("fast_cloud", "typical_cloud")


def _ratio_target(profile: str, length: str) -> float:
    return RATIO_FAST[length] if profile == "fast_cloud" else RATIO_ANY


def verdicts(data: dict[str, Any]) -> dict[str, bool]:
    """Each target the data has figures for: met or not."""
    met: dict[str, bool] = {}
    for profile in MATRIX:
        for output in OUTPUTS:
            for length in LENGTHS:
                key = f"anima_vs_core_p50_{profile}_{output}_{length}"
                if key in data:
                    met[key] = data[key] <= _ratio_target(profile, length)
    for profile in SPEAKER:
        for length in LENGTHS:
            suffix = profile if length == "short" else f"long_{profile}"
            if (at := data.get(f"ttfa_speaker_ms_p95_{suffix}")) is not None:
                floor = data[f"provider_floor_ms_{suffix}"]
                met[f"speaker_near_floor_{suffix}"] = at - floor <= SPEAKER_NEAR_FLOOR_MS
            key = f"anima_vs_core_speaker_p50_{profile}_{length}"
            if key in data:
                met[key] = data[key] <= _ratio_target(profile, length)
    if "ttfa_speaker_ms_p95_50_satellites" in data:
        crowd = data["ttfa_speaker_ms_p95_50_satellites"] - data["ttfa_speaker_ms_p95_1_satellite"]
        met["speaker_50_satellites"] = crowd <= CROWD_MS
    if "hub_overhead_ms_p95" in data:
        met["hub_overhead_ms_p95"] = data["hub_overhead_ms_p95"] <= HUB_OVERHEAD_MS
    for profile in ("fast_cloud", "typical_cloud", "slow_cloud"):
        if f"overhead_ms_p95_{profile}" in data:
            met[f"near_floor_{profile}"] = data[f"overhead_ms_p95_{profile}"] <= NEAR_FLOOR_MS
    if "ttfa_ms_p95_typical_cloud_nonstreaming" in data and "ttfa_ms_p95_typical_cloud" in data:
        speedup = data["ttfa_ms_p95_typical_cloud_nonstreaming"] / data["ttfa_ms_p95_typical_cloud"]
        data["streaming_speedup_typical_cloud"] = round(speedup, 2)
        met["streaming_speedup"] = speedup >= STREAMING_SPEEDUP
    if "hub_overhead_ms_p95_50_satellites" in data:
        met["hub_overhead_ms_p95_50_satellites"] = (
            data["hub_overhead_ms_p95_50_satellites"] <= CROWD_MS
        )
    return met


def _mark(met: dict[str, bool], key: str) -> str:
    return "" if key not in met else ("met" if met[key] else "**missed**")


def markdown(data: dict[str, Any], met: dict[str, bool]) -> str:
    """The results as the Markdown docs/performance.md shows."""
    lines = [
        "# Latency: end of speech to first audio, Anima against Home Assistant's own chain",
        "",
        f"Home Assistant {data.get('home_assistant')} (a real `hass`, asyncio debug"
        f" {'on' if data.get('asyncio_debug') else 'off'}); simulated providers in their own"
        " process (real HTTP and SSE, scripted latency); Anima and core alternating turn by"
        " turn. Core: Home Assistant's OpenAI integration with its"
        " own speech-to-text and text-to-speech. Milliseconds.",
        "",
    ]
    if any(key.startswith("pipeline_ms_") for key in data):
        lines += [
            "## At the pipeline: end of the audio to the first byte of reply audio",
            "",
            "| profile | output | answer | floor | Anima p50 | Anima p95 | core p50 | core p95"
            " | Anima / core p50 | target | |",
            "|---|---|---|---:|---:|---:|---:|---:|---:|---|---|",
        ]
        for profile in MATRIX:
            for cell, row in data.get(f"pipeline_ms_{profile}", {}).items():
                output, length = cell.removeprefix(f"{profile}_").split("_")
                key = f"anima_vs_core_p50_{cell}"
                lines.append(
                    f"| {profile} | {output} | {length} | {row['floor']} | {row['anima_p50']}"
                    f" | {row['anima_p95']} | {row['core_p50']} | {row['core_p95']}"
                    f" | {data[key]} | <= {_ratio_target(profile, length)} | {_mark(met, key)} |"
                )
        lines.append("")
    if any(f"ttfa_speaker_ms_p95_{p}" in data for p in SPEAKER):
        lines += [
            "## At the satellite's speaker: last microphone chunk to the first sample played",
            "",
            "| profile | answer | floor | Anima p50 | Anima p95 | p95 above the floor | target"
            " | | core p50 | Anima / core p50 | target | |",
            "|---|---|---:|---:|---:|---:|---|---|---:|---:|---|---|",
        ]
        for profile in SPEAKER:
            for length in LENGTHS:
                suffix = profile if length == "short" else f"long_{profile}"
                if f"ttfa_speaker_ms_p95_{suffix}" not in data:
                    continue
                floor = data[f"provider_floor_ms_{suffix}"]
                at = data[f"ttfa_speaker_ms_p95_{suffix}"]
                ratio = f"anima_vs_core_speaker_p50_{profile}_{length}"
                lines.append(
                    f"| {profile} | {length} | {floor} | {data[f'ttfa_speaker_ms_p50_{suffix}']}"
                    f" | {at} | {round(at - floor, 1)} | <= {SPEAKER_NEAR_FLOOR_MS:g}"
                    f" | {_mark(met, f'speaker_near_floor_{suffix}')}"
                    f" | {data[f'core_speaker_ms_p50_{suffix}']} | {data[ratio]}"
                    f" | <= {_ratio_target(profile, length)} | {_mark(met, ratio)} |"
                )
        lines.append("")
    if "ttfa_speaker_ms_p95_50_satellites" in data:
        lines += [
            "## Satellites asking at the same moment (fast_cloud, Anima, at the speaker)",
            "",
            "| satellites | p50 | p95 |",
            "|---:|---:|---:|",
        ]
        for label, count in (("1_satellite", 1), ("10_satellites", 10), ("50_satellites", 50)):
            lines.append(
                f"| {count} | {data[f'ttfa_speaker_ms_p50_{label}']}"
                f" | {data[f'ttfa_speaker_ms_p95_{label}']} |"
            )
        crowd = data["ttfa_speaker_ms_p95_50_satellites"] - data["ttfa_speaker_ms_p95_1_satellite"]
        lines += [
            "",
            f"50 against 1: p95 {round(crowd, 1)} ms later (target <= {CROWD_MS:g}:"
            f" {_mark(met, 'speaker_50_satellites')}).",
            "",
        ]
    if "ttfa_speaker_ms_p50_local_turn2" in data:
        lines += [
            "## Local: real Whisper, the local model (llama-server, Qwen2.5-Coder-0.5B), Piper",
            "",
            "| turn | at the speaker | floor (Whisper + model + Piper's first audio) |",
            "|---|---:|---:|",
            f"| 1 (cold prompt) | {data['ttfa_speaker_ms_local_turn1']}"
            f" | {data['provider_floor_ms_local_turn1']} |",
            f"| 2 and later, p50 | {data['ttfa_speaker_ms_p50_local_turn2']}"
            f" | {data['provider_floor_ms_p50_local_turn2']} |",
            "",
        ]
        if firsts := data.get("piper_first_byte_ms_p50"):
            lines += [
                "The one conversion left, Piper's PCM for a browser: first byte p50 as MP3"
                f" {firsts.get('mp3')} ms (Home Assistant's ffmpeg encodes it), as a Wyoming"
                f" satellite's WAV {firsts.get('satellite')} ms, as WAV {firsts.get('wav')} ms.",
                "",
            ]
    if cells := data.get("ha_2026_10"):
        lines += [
            "## The same short answers in Home Assistant 2026.10.4 (the test harness's)",
            "",
            "| cell | Anima p50 | core p50 | Anima / core |",
            "|---|---:|---:|---:|",
            *(
                f"| {cell} | {row['anima_p50']} | {row['core_p50']} | {row['anima_vs_core_p50']} |"
                for cell, row in cells.items()
            ),
            "",
        ]
    if "hub_overhead_ms_p95" in data or "ttfa_ms_p95_slow_cloud" in data:
        lines += [
            "## The first benchmark's rows (Anima, a browser's MP3, short answers, pipeline)",
            "",
            "| row | floor | p95 | above the floor p95 | target | |",
            "|---|---:|---:|---:|---|---|",
        ]
        if "hub_overhead_ms_p95" in data:
            lines.append(
                f"| zero (hub overhead) | 0 | {data['hub_overhead_ms_p95']} | |"
                f" <= {HUB_OVERHEAD_MS:g} | {_mark(met, 'hub_overhead_ms_p95')} |"
            )
        for profile in ("fast_cloud", "typical_cloud", "slow_cloud"):
            if f"ttfa_ms_p95_{profile}" in data:
                lines.append(
                    f"| {profile} | {data[f'provider_floor_ms_{profile}']}"
                    f" | {data[f'ttfa_ms_p95_{profile}']} | {data[f'overhead_ms_p95_{profile}']}"
                    f" | <= floor + {NEAR_FLOOR_MS:g} | {_mark(met, f'near_floor_{profile}')} |"
                )
        if "streaming_speedup_typical_cloud" in data:
            lines.append(
                f"| typical_cloud, a voice that waits for the whole answer | |"
                f" {data['ttfa_ms_p95_typical_cloud_nonstreaming']} | | streaming >= 2x faster"
                f" (measured {data['streaming_speedup_typical_cloud']}x)"
                f" | {_mark(met, 'streaming_speedup')} |"
            )
        if "ttfa_ms_p95_50_satellites" in data:
            lines.append(
                f"| fast_cloud, 50 turns at once | | {data['ttfa_ms_p95_50_satellites']}"
                f" | {data['hub_overhead_ms_p95_50_satellites']} | <= floor + {CROWD_MS:g}"
                f" | {_mark(met, 'hub_overhead_ms_p95_50_satellites')} |"
            )
            lines.append(
                f"| core, the same 50 turns at once | | {data['core_ms_p95_50_turns']} | | | |"
            )
        lines.append("")
    env = data["environment"]
    lines += [
        f"{env['python']} on {env['machine']}, {env['cores']} cores, shared with other work;"
        " per section, turns per cell, seconds and the load average before and after:"
        + ";".join(
            f" {name} {run['turns']}, {run['seconds']} s, {run['load_average'][0]} to"
            f" {run['load_average'][1]}"
            for name, run in data.get("runs", {}).items()
        )
        + ".",
        "",
    ]
    return "\n".join(lines)
