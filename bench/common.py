"""Helpers shared by the benchmarks: loading repository code, percentiles, writing results."""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
import platform
import statistics
import subprocess
import sys
import tempfile
import types
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def import_pure(module: str) -> types.ModuleType:
    """Import `custom_components.anima.<module>` from this checkout without set-up.

    The integration's `__init__.py` imports Home Assistant; domain modules such as routing.py are
    pure by rule, so the package is registered bare and only the module and its own imports load.
    """
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    for name, path in (
        ("custom_components", ROOT / "custom_components"),
        ("custom_components.anima", ROOT / "custom_components" / "anima"),
    ):
        if name not in sys.modules:
            package = types.ModuleType(name)
            package.__path__ = [str(path)]
            sys.modules[name] = package
    return importlib.import_module(f"custom_components.anima.{module}")


def percentile_us(samples_ns: list[int], percent: int) -> float:
    """Return the `percent` percentile of nanosecond samples, in microseconds."""
    cuts = statistics.quantiles(samples_ns, n=100, method="inclusive")
    return round(cuts[percent - 1] / 1000, 2)


def environment() -> dict[str, Any]:
    """Describe where the benchmark ran."""
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "machine": platform.machine(),
        "platform": platform.platform(),
        "cores": os.cpu_count(),
    }


def write_results(name: str, data: dict[str, Any], markdown: str) -> tuple[Path, Path]:
    """Write `bench/results/<name>.json` and `<name>.md`; return both paths."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    json_path, md_path = RESULTS / f"{name}.json", RESULTS / f"{name}.md"
    json_path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    md_path.write_text(markdown, encoding="utf-8")
    return json_path, md_path


def run_scenario(name: str, turns: int, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run bench/scenarios/test_<name>.py in the test suite's harness; return what it wrote.

    The scenarios need a real Home Assistant, which pytest-homeassistant-custom-component sets up
    for tests; each writes its figures to the JSON file named by ANIMA_BENCH_OUT. `env` adds
    settings of the scenario's own.
    """
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "result.json"
        env = {
            **os.environ,
            **(env or {}),
            "ANIMA_BENCH_OUT": str(out),
            "ANIMA_BENCH_TURNS": str(turns),
        }
        scenario = ROOT / "bench" / "scenarios" / f"test_{name}.py"
        subprocess.run(
            [sys.executable, "-m", "pytest", str(scenario), "-q", "-p", "no:cacheprovider"],
            check=True,
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
        return dict(json.loads(out.read_text()))
