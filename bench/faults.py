"""The fault suite: what a user gets when providers, voices, cameras, disks and the network lie.

Run: .venv/bin/python bench/faults.py [kills]   (scripts/bench faults; kills: 20 by default)
Writes bench/results/faults.json and faults.md; exits 1 when a target is missed.

(a) Turns: every case of bench/scenarios/faults_cases.py is a spoken turn through Home
    Assistant's assist pipeline (bench/scenarios/test_faults.py): what was said, whether audio
    came (speech or the error earcon: never silence, never a traceback), how fast after the end
    of speech and after the fault.
(b) Kills: a real `hass` (scripts/hassctl.py) answering turns back to back is killed (SIGKILL) at
    a random moment, `kills` times, and started again; at the end every turn that was answered
    must have its record in the saved ledger.
(c) Wire probes: every probe of tests/fakes/hostile_clients.py against a satellite process (its
    Wyoming port and endpoint service) and a formant voice process; their memory before and
    after each probe.
(d) Secrets: the API keys and the pairing key of the run (made fresh) searched in every log,
    diagnostics download and repr the run produced.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
import itertools
import json
import os
from pathlib import Path
import random
import secrets
import subprocess
import sys
import tempfile
import time
from typing import Any

import aiohttp
from common import ROOT, environment, import_pure, run_scenario, write_results

import_pure("const")  # the repository's root on the path, the integration's package bare
from custom_components.anima.protocol import new_key  # noqa: E402
from scripts.hassctl import LOG_FILE, HassError, HassProcess, free_port  # noqa: E402
from tests.e2e.assistant import add_assistant, ask  # noqa: E402
from tests.e2e.test_smoke import wait_for_state  # noqa: E402
from tests.fakes.hostile_clients import (  # noqa: E402
    FORMANT,
    SATELLITE,
    SERVICE,
    ProbeResult,
    Target,
    probe_all,
)
from tests.fakes.openai_server import Endpoint, FakeOpenAIServer, Reply  # noqa: E402
from tests.satellite.helpers import rss_mib, until_listening  # noqa: E402

records_mod = import_pure("core.ledger.records")

TARGETS = {
    "turns_answered_pct": 100.0,
    "answer_within_3s_of_fault_pct": 100.0,
}
#: Prompt tokens of the kill turns' answers: 100,000 + the turn's number, so each record names
#: its turn.
TURN_BASE = 100_000
#: Probes wait this long for the probed process to close on them (its idle time-out is 2 s).
PATIENCE = 8.0
MIB = 1024 * 1024


# --- (a) turns --------------------------------------------------------------------------------


def turns(secret: dict[str, str], artifacts: Path) -> list[dict[str, Any]]:
    """Every fault case as a spoken turn, in the test suite's harness."""
    found = run_scenario(
        "faults",
        0,
        env={"ANIMA_BENCH_SECRETS": json.dumps(secret), "ANIMA_BENCH_ARTIFACTS": str(artifacts)},
    )
    return list(found["cases"])


# --- (b) kills --------------------------------------------------------------------------------


async def kills(count: int, key: str, work: Path, seed: int) -> dict[str, Any]:
    """Kill a real Home Assistant `count` times during turns; the answered turns' records lost."""
    chance = random.Random(seed)
    numbers = itertools.count(1)
    answered: set[int] = set()
    moments: list[float] = []
    started = time.perf_counter()
    server = FakeOpenAIServer(key)

    def respond(endpoint: Endpoint, body: dict[str, Any]) -> Reply:
        number = next(numbers)
        return Reply.text(f"Answer {number}.", usage=(TURN_BASE + number, 5))

    server.responder = respond
    hass = HassProcess(work / "config", port=free_port(), start_timeout=240)
    async with server:
        await hass.start()
        await add_assistant(hass, server)
        entries = [entry["entry_id"] for entry in await hass.entries("anima")]
        await hass.stop()  # Home Assistant saves its new entries a moment later: let it
        await _started(hass, entries)
        for _ in range(count):
            driver = asyncio.create_task(_turns_back_to_back(hass, answered))
            moment = chance.uniform(0.2, 3.0)
            moments.append(round(moment, 2))
            await asyncio.sleep(moment)
            hass.kill()  # SIGKILL: no shutdown, no save
            driver.cancel()
            with suppress(asyncio.CancelledError):
                await driver
            await _started(hass, entries)
        diagnostics = [
            await hass.request("GET", f"/api/diagnostics/config_entry/{entry['entry_id']}")
            for entry in await hass.entries("anima")
        ]
        await hass.stop()
    storage = hass.config_dir / ".storage"
    saved = {record.input_tokens - TURN_BASE for record in _saved_records(storage)}
    lost = sorted(answered - saved)
    (work / "kills.diagnostics.json").write_text(json.dumps(diagnostics))
    return {
        "kills": count,
        "turns_answered": len(answered),
        "ledger_records_lost": len(lost),
        "lost_turns": lost,
        "kill_moments_s": moments,
        "seed": seed,
        "seconds": round(time.perf_counter() - started, 1),
        "logs": [str(hass.config_dir / LOG_FILE), str(work / "kills.diagnostics.json")],
    }


async def _started(hass: HassProcess, entries: list[str]) -> None:
    """Start Home Assistant; wait until Anima's entries are loaded."""
    await hass.start()
    for entry_id in entries:
        await wait_for_state(hass, entry_id, "loaded")


async def _turns_back_to_back(hass: HassProcess, answered: set[int]) -> None:
    """Ask turn after turn; note the number of each answer that came back."""
    while True:
        try:
            said = await ask(hass, "How are you?")
        except (aiohttp.ClientError, OSError, HassError, TimeoutError):  # killed mid-turn
            return
        if said.startswith("Answer "):
            answered.add(int(said.removeprefix("Answer ").rstrip(".")))


def _saved_records(storage: Path) -> list[Any]:
    """The records Home Assistant's ledger store (and its archive) hold."""
    found = []
    for name in ("anima.ledger", "anima.ledger_archive"):
        path = storage / name
        if path.exists():
            rows = json.loads(path.read_text())["data"].get("records", [])
            good = [row for row in map(records_mod.stored_row, rows) if row is not None]
            found += [records_mod.record_from_row(row) for row in good]
    return found


# --- (c) wire probes --------------------------------------------------------------------------


async def probes(key: str, work: Path) -> dict[str, Any]:
    """Every hostile probe on a satellite and a formant process; memory after each."""
    satellite_port, service_port, formant_port = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'satellite'}",
        "ANIMA_PAIRING_KEY": key,
    }
    logs = {name: work / f"{name}.stderr" for name in ("satellite", "formant")}
    launch = [sys.executable, "-m", "bench.scenarios.probe_targets"]
    processes = {
        "satellite": subprocess.Popen(  # noqa: ASYNC220 - started once, before the probes
            [*launch, "satellite", str(satellite_port), str(service_port)],
            cwd=ROOT,
            env=env,
            stderr=logs["satellite"].open("wb"),
        ),
        "formant": subprocess.Popen(  # noqa: ASYNC220
            [*launch, "formant", str(formant_port)],
            cwd=ROOT,
            env=env,
            stderr=logs["formant"].open("wb"),
        ),
    }
    rows: list[dict[str, Any]] = []
    try:
        for port in (satellite_port, service_port, formant_port):
            await until_listening(port, seconds=60)
        for process_name, port, kind in (
            ("satellite", satellite_port, SATELLITE),
            ("satellite", service_port, SERVICE),
            ("formant", formant_port, FORMANT),
        ):
            pid = processes[process_name].pid
            before = rss_mib(pid)

            def after(
                result: ProbeResult, kind: str = kind, pid: int = pid, before: float = before
            ) -> None:
                rows.append(
                    {
                        "case": f"{kind}/{result.name}",
                        "closed_by_server": result.closed_by_server,
                        "served_after": result.served_after,
                        "seconds": round(result.seconds, 2),
                        "sent_mib": round(result.sent_bytes / MIB, 1),
                        "rss_growth_mib": round(rss_mib(pid) - before, 2),
                        "detail": result.detail,
                    }
                )

            target = Target("127.0.0.1", port, kind, key=key, patience=PATIENCE)
            await probe_all(target, after_each=after)
    finally:
        for process in processes.values():
            process.terminate()
            process.wait(timeout=10)
    growth = max(row["rss_growth_mib"] for row in rows)
    return {
        "rows": rows,
        "satellite_rss_growth_mib": growth,
        "logs": [str(p) for p in logs.values()],
    }


# --- (d) secrets ------------------------------------------------------------------------------


def secrets_found(secret_values: list[str], places: list[Path]) -> dict[str, Any]:
    """Count where any of the run's secrets appears in what it wrote."""
    found: list[str] = []
    searched = 0
    for place in places:
        for path in sorted(place.rglob("*")) if place.is_dir() else [place]:
            if not path.is_file():
                continue
            searched += 1
            text = path.read_text(errors="replace")
            found += [f"{path.name}" for value in secret_values if value in text]
    return {"secrets_found_in_logs": len(found), "where": found, "files_searched": searched}


# --- the report -------------------------------------------------------------------------------


def build(kill_count: int) -> dict[str, Any]:
    started = time.perf_counter()
    secret = {
        "primary": "sk-" + secrets.token_hex(20),
        "backup": "sk-" + secrets.token_hex(20),
        "listener": "sk-" + secrets.token_hex(20),
        "kills": "sk-" + secrets.token_hex(20),
        "pairing": new_key(),
    }
    with tempfile.TemporaryDirectory(prefix="anima-faults-") as scratch:
        work = Path(scratch)
        turn_rows = turns(secret, work / "turns")
        killed = asyncio.run(
            kills(kill_count, secret["kills"], work, seed=random.randrange(1 << 30))
        )
        probed = asyncio.run(probes(secret["pairing"], work))
        places = [work / "turns", *map(Path, killed.pop("logs")), *map(Path, probed.pop("logs"))]
        leaks = secrets_found(list(secret.values()), places)
    answered = sum(row["answered"] for row in turn_rows)
    quick = sum(
        row["answered"] and row["after_fault_s"] is not None and row["after_fault_s"] <= 3.0
        for row in turn_rows
    )
    data: dict[str, Any] = {
        "benchmark": "faults",
        "fault_cases": len(turn_rows) + len(probed["rows"]) + 1,
        "turns_answered_pct": round(100.0 * answered / len(turn_rows), 1),
        "answer_within_3s_of_fault_pct": round(100.0 * quick / len(turn_rows), 1),
        "ledger_records_lost": killed["ledger_records_lost"],
        "secrets_found_in_logs": leaks["secrets_found_in_logs"],
        "satellite_rss_growth_mib": probed["satellite_rss_growth_mib"],
        "turns_as_expected_pct": round(
            100.0 * sum(row["as_expected"] for row in turn_rows) / len(turn_rows), 1
        ),
        "turn_cases": turn_rows,
        "kills": killed,
        "probes": probed["rows"],
        "secrets": {k: v for k, v in leaks.items() if k != "secrets_found_in_logs"},
        "environment": environment(),
    }
    data["duration_s"] = round(time.perf_counter() - started, 1)
    return data


def markdown(data: dict[str, Any]) -> str:
    env, killed = data["environment"], data["kills"]
    lines = [
        "# Faults",
        "",
        "What a user gets when something misbehaves (`scripts/bench faults`, bench/faults.py).",
        "",
        "| figure | measured | target |",
        "|---|---:|---:|",
        f"| fault cases | {data['fault_cases']} | |",
        f"| turns answered (speech or the error earcon, no traceback) "
        f"| {data['turns_answered_pct']}% | 100% |",
        f"| answered within 3 s of the fault | {data['answer_within_3s_of_fault_pct']}% | 100% |",
        f"| turns that got what was expected | {data['turns_as_expected_pct']}% | 100% |",
        f"| ledger records lost over {killed['kills']} SIGKILLs "
        f"({killed['turns_answered']} turns answered) | {data['ledger_records_lost']} | 0 |",
        f"| secrets in logs, diagnostics and reprs ({data['secrets']['files_searched']} files) "
        f"| {data['secrets_found_in_logs']} | 0 |",
        f"| satellite and formant memory growth after a probe, at most "
        f"| {data['satellite_rss_growth_mib']} MiB | bounded |",
        "",
        "## Turns",
        "",
        "Each a spoken turn through Home Assistant's assist pipeline (Anima's listener, agent and"
        " formant voice; the agent's backup provider, or the voice's, where the case has one)."
        " *After speech*: from the end of the user's audio to the reply's first audio; *after the"
        " fault*: from the faulty answer (or the end of the patience it used up: the chain's"
        " first-token limit, the camera's time-out) to that first audio.",
        "",
        "| case | fault | backup | the user got | as expected | after speech (s) "
        "| after the fault (s) |",
        "|---|---|---|---|---|---:|---:|",
    ]
    for row in data["turn_cases"]:
        got = row["got"] + (f" ({row['detail']})" if row["detail"] else "")
        if row["got"].endswith("max_tokens"):
            got += f" ({row['heard_characters']:,} characters)"
        lines.append(
            f"| {row['case']} | {row['fault']} | {'yes' if row['backup'] else 'no'} | {got} "
            f"| {'yes' if row['as_expected'] else '**no**'} | {row['first_audio_s']} "
            f"| {row['after_fault_s']} |"
        )
    lines += [
        "",
        f"## SIGKILL during turns ({killed['kills']} kills, {killed['seconds']} s)",
        "",
        f"A real Home Assistant answered turns back to back and was killed at random moments"
        f" ({min(killed['kill_moments_s'])}-{max(killed['kill_moments_s'])} s into each round of"
        f" turns, seed {killed['seed']}), then started again: {killed['turns_answered']} turns"
        f" were answered, {killed['ledger_records_lost']} of their records are missing from the"
        " saved ledger.",
        "",
        "## Hostile clients on the satellite's ports and the formant voice",
        "",
        "Each probe of tests/fakes/hostile_clients.py against a satellite process (the Wyoming"
        " port and the endpoint service) and a formant voice process (bench/scenarios/"
        "probe_targets.py: the shipped servers, idle time-out shortened to 2 s); memory is the"
        " process's resident size after the probe minus before the first.",
        "",
        "| probe | closed by the server | next client served | seconds | sent (MiB) "
        "| memory growth (MiB) |",
        "|---|---|---|---:|---:|---:|",
        *(
            f"| {row['case']} | {'yes' if row['closed_by_server'] else '**no**'} "
            f"| {'yes' if row['served_after'] else '**no**'} | {row['seconds']} "
            f"| {row['sent_mib']} | {row['rss_growth_mib']} |"
            for row in data["probes"]
        ),
        "",
        f"Python {env['python']}, {env['machine']}, {env['cores']} cores, {env['platform']};"
        f" {data['duration_s']} s.",
        "",
    ]
    return "\n".join(lines)


def met(data: dict[str, Any]) -> bool:
    """Whether every target is met."""
    return (
        all(data[key] >= target for key, target in TARGETS.items())
        and data["ledger_records_lost"] == 0
        and data["secrets_found_in_logs"] == 0
        and data["kills"]["kills"] >= 20
        and all(row["closed_by_server"] and row["served_after"] for row in data["probes"])
    )


def main() -> int:
    kill_count = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    data = build(kill_count)
    json_path, md_path = write_results("faults", data, markdown(data))
    print(markdown(data))
    print(f"wrote {json_path.relative_to(json_path.parents[2])} and {md_path.name}")
    return 0 if met(data) else 1


if __name__ == "__main__":
    sys.exit(main())
