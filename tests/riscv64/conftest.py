"""Fixtures for the satellite as riscv64 processes (an emulated board, `board.py`) with Home
Assistant on this machine (the real `hass` of tests/e2e, whose fixtures these tests share).

Every test here is marked `riscv64`: `-m riscv64` runs only them, `-m "not riscv64"` skips them.
Without a board (scripts/setup could not make one, or this machine cannot run it) they skip,
saying why. With `ANIMA_RISCV64_TIMINGS=FILE` the emulated durations are written to FILE as JSON
(bench/riscv64.py reads them).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
import json
import os
from pathlib import Path
import re
import shutil
import subprocess
import time

import pytest

from tests.e2e.conftest import (  # the same Home Assistant harness as tests/e2e
    _loopback_sockets,
    anima_hass,
    pytest_runtest_makereport,
    real_hass,
)
from tests.riscv64.board import ROOT, Board, BoardUnavailableError, board_dir

__all__ = ["_loopback_sockets", "anima_hass", "pytest_runtest_makereport", "real_hass"]

RISCV64_DIR = Path(__file__).parent
DOCS = ROOT / "docs" / "satellite.md"
STEPS_MARKER = "<!-- riscv64 install"
#: Where the docs install from; the board installs the same way from a snapshot of this checkout.
UPSTREAM = "https://github.com/anima-home/anima"
SNAPSHOT = "/share/anima"  # the snapshot's path on the board
#: Emulated durations in seconds, by what was timed (written at the end with ANIMA_RISCV64_TIMINGS).
TIMINGS: dict[str, float] = {}


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
