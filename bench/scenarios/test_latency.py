"""Scenario of bench/latency.py --ha-2026-10: the pipeline matrix in Home Assistant 2026.10.

bench/latency.py measures in a real Home Assistant 2026.11. This runs the same turns
(turns.py, stacks.py, the provider service in its own process) in the Home Assistant that
pytest-homeassistant-custom-component pins, 2026.10.4, whose TTS manager spawns ffmpeg for
every request that names a sample rate, whatever the voice gives: the figures show what a
satellite costs there. asyncio debug is off (conftest.py). Results go to ANIMA_BENCH_OUT.
"""

from __future__ import annotations

from collections import defaultdict
import json
import os
from pathlib import Path
import statistics

from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest

from bench.processes import Providers

from .stacks import OUTPUTS, anima_stack, core_stack
from .turns import timed_turn

TURNS = int(os.environ.get("ANIMA_BENCH_TURNS", "30"))


@pytest.mark.parametrize("name", ["zero", "fast_cloud"])
async def test_the_pipeline_in_home_assistant_2026_10(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    samples: dict[tuple[str, str], list[float]] = defaultdict(list)
    async with Providers() as providers:
        await providers.script(name, "short")
        monkeypatch.setenv("OPENAI_BASE_URL", providers.base_url)
        assert await async_setup_component(hass, "assist_pipeline", {})
        stacks = {
            "anima": await anima_stack(hass, providers.base_url),
            "core": await core_stack(hass),
        }
        for output_name, output in OUTPUTS.items():
            for pipeline in stacks.values():
                await timed_turn(hass, pipeline, output=output)
            for turn in range(TURNS):
                for stack in sorted(stacks, reverse=bool(turn % 2)):
                    ms = await timed_turn(hass, stacks[stack], output=output)
                    samples[stack, output_name].append(ms)
    out = Path(os.environ["ANIMA_BENCH_OUT"])
    result = json.loads(out.read_text()) if out.exists() else {}
    for output_name in OUTPUTS:
        anima = statistics.median(samples["anima", output_name])
        core = statistics.median(samples["core", output_name])
        result[f"{name}_{output_name}_short"] = {
            "anima_p50": round(anima, 1),
            "core_p50": round(core, 1),
            "anima_vs_core_p50": round(anima / core, 2),
        }
    out.write_text(json.dumps(result))
