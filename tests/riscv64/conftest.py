"""Fixtures for the satellite as riscv64 processes (an emulated board, `board.py`) with Home
Assistant on this machine (the real `hass` of tests/e2e, whose fixtures these tests share).

Every test here is marked `riscv64`: `-m riscv64` runs only them, `-m "not riscv64"` skips them.
Without a board (scripts/setup could not make one, or this machine cannot run it) they skip,
saying why. With `ANIMA_RISCV64_TIMINGS=FILE` the emulated durations are written to FILE as JSON
(bench/riscv64.py reads them).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
import json
import os
from pathlib import Path
import re
import shutil
import subprocess
import time

import pytest
import pytest_socket

from scripts.hassctl import free_port
from tests.e2e.conftest import (  # the same Home Assistant harness as tests/e2e
    _loopback_sockets,
    anima_hass,
    pytest_runtest_makereport,
    real_hass,
)
from tests.fixtures.speech_servers import SpeechServer, _answers_describe
from tests.riscv64.board import ROOT, Board, BoardUnavailableError, board_dir
from tests.riscv64.household import WAKE_MODEL

__all__ = ["_loopback_sockets", "anima_hass", "pytest_runtest_makereport", "real_hass"]

RISCV64_DIR = Path(__file__).parent
DOCS = ROOT / "docs" / "satellite.md"
STEPS_MARKER = "<!-- riscv64 install"
#: Where the docs install from; the board installs the same way from a snapshot of this checkout.
UPSTREAM = "https://github.com/anima-home/anima"
SNAPSHOT = "/share/anima"  # the snapshot's path on the board
#: Emulated durations in seconds, by what was timed (written at the end with ANIMA_RISCV64_TIMINGS).
TIMINGS: dict[str, float] = {}
#: How long a program may take to start on the board (Python and numpy under emulation).
START_TIMEOUT = 180.0
#: A reply has been played once the board's speaker file has not grown for this long.
PLAYED_STEADY_S = 2.0


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker."""
    config.addinivalue_line(
        "markers", "riscv64: the satellite as riscv64 processes on an emulated board (slow)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test in tests/riscv64."""
    for item in items:
        if RISCV64_DIR in item.path.parents:
            item.add_marker(pytest.mark.riscv64)


def pytest_sessionfinish() -> None:
    """Write the timings, if asked to."""
    if (target := os.environ.get("ANIMA_RISCV64_TIMINGS")) and TIMINGS:
        Path(target).write_text(json.dumps(TIMINGS, indent=2) + "\n")


def docs_riscv64_steps() -> list[str]:
    """The command lines of docs/satellite.md's riscv64 install block, as a user types them."""
    text = DOCS.read_text()
    after = text[text.index(STEPS_MARKER) :]
    block = re.search(r"```sh\n(.*?)```", after, re.DOTALL)
    assert block is not None, f"no ```sh block after {STEPS_MARKER!r} in {DOCS}"
    return [line for line in block.group(1).splitlines() if line.strip()]


@pytest.fixture(scope="session")
def board(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Board]:
    """An emulated riscv64 Debian board for the session (skips, saying why, where there is none)."""
    try:
        found = Board(board_dir(), tmp_path_factory.mktemp("riscv64"))
        started = time.monotonic()
        found.start()
    except BoardUnavailableError as err:
        pytest.skip(f"no riscv64 board: {err}")
    TIMINGS["board_start_s"] = time.monotonic() - started
    try:
        yield found
    finally:
        found.stop()


def _snapshot(target: Path) -> None:
    """A git repository of this checkout's files (committed or not), as a user's clone has them."""
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (entry.decode() for entry in listed)):
        source = ROOT / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the working tree
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target / name, follow_symlinks=False)
    git = ["git", "-C", str(target), "-c", "user.name=test", "-c", "user.email=test@localhost"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "snapshot"], check=True)


@dataclass(frozen=True)
class InstalledSatellite:
    """The satellite, installed on the board the way docs/satellite.md says."""

    board: Board
    #: What the docs' steps printed (the last one is `anima-satellite --help`).
    output: str

    def bin(self, name: str) -> str:
        """A command of the installed package, by its path on the board."""
        return f"/root/anima/bin/{name}"


@pytest.fixture(scope="session")
def installed(board: Board) -> InstalledSatellite:
    """Run the docs' riscv64 steps on the board, with the repository URL pointed at a snapshot.

    The `sudo apt install` line is what scripts/setup unpacked the board from (a board cannot
    configure packages under emulation); it is checked here rather than run.
    """
    steps = docs_riscv64_steps()
    (apt,) = [line for line in steps if line.startswith("sudo apt install ")]
    unpacked = {line.split("_")[0] for line in (board.board / "packages.txt").read_text().split()}
    missing = set(apt.split()[3:]) - unpacked
    assert not missing, f"the board lacks {missing}: run scripts/setup again"
    commands = [line for line in steps if line != apt]
    assert any(UPSTREAM in line for line in commands), f"the docs no longer install from {UPSTREAM}"
    _snapshot(board.share / "anima")
    script = "\n".join(line.replace(UPSTREAM, f"file://{SNAPSHOT}") for line in commands)
    started = time.monotonic()
    done = board.run(script, timeout=1800)
    TIMINGS["install_s"] = time.monotonic() - started
    return InstalledSatellite(board, done.stdout + done.stderr)


@asynccontextmanager
async def running(
    installed: InstalledSatellite, program: str, *args: str, port: int, timing: str
) -> AsyncIterator[asyncio.subprocess.Process]:
    """Run one of the package's programs on the board until the block ends.

    Waits until its Wyoming server on `port` answers; the time that took goes to TIMINGS[timing].
    """
    board = installed.board
    log = board.work / f"{program}-{port}.log"
    started = time.monotonic()
    process = await board.spawn([installed.bin(program), *args], log)
    try:
        async with asyncio.timeout(START_TIMEOUT):
            while not await asyncio.to_thread(_answers_describe, port):
                assert process.returncode is None, f"{program} exited:\n{log.read_text()}"
                await asyncio.sleep(0.5)
        TIMINGS[timing] = max(TIMINGS.get(timing, 0.0), time.monotonic() - started)
        yield process
    finally:
        await board.end(process)


@pytest.fixture(scope="session")
def wake_word_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SpeechServer]:
    """openWakeWord's Wyoming server (.venv-wake): the hub's wake word engine, with Okay Nabu."""
    python = ROOT / ".venv-wake" / "bin" / "python"
    if not (ROOT / ".venv-wake" / ".anima-stamp").exists():
        pytest.fail(f"{python.parent.parent} is missing or incomplete: run scripts/setup first")
    pytest_socket.enable_socket()  # session set-up runs inside a test whose sockets are blocked
    port = free_port()
    log = tmp_path_factory.mktemp("openwakeword") / "server.log"
    command = [str(python), "-m", "wyoming_openwakeword", "--uri", f"tcp://127.0.0.1:{port}"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "--preload-model", WAKE_MODEL], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while not _answers_describe(port):
            assert process.poll() is None, f"openWakeWord exited:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"openWakeWord did not start:\n{log.read_text()}"
            time.sleep(0.2)
        yield SpeechServer("127.0.0.1", port, process)
    finally:
        process.terminate()
        process.wait(timeout=10)


async def played_on_board(speaker: Path, seconds: float = 180) -> bytes:
    """What the board played into `speaker` (its --snd-file), once it has stopped growing."""
    deadline = time.monotonic() + seconds
    size, steady_since = -1, time.monotonic()
    while True:
        now_size = speaker.stat().st_size if speaker.exists() else 0
        if now_size != size:
            size, steady_since = now_size, time.monotonic()
        elif size and time.monotonic() - steady_since >= PLAYED_STEADY_S:
            return speaker.read_bytes()
        assert time.monotonic() < deadline, f"nothing played on the board within {seconds} s"
        await asyncio.sleep(0.2)
