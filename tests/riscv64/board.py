"""An emulated riscv64 Debian board: programs run as riscv64 processes under qemu user mode.

scripts/setup unpacks Debian's riscv64 port with the packages docs/satellite.md names
(`$ANIMA_CACHE/riscv64/root`) next to a static `qemu-riscv64-static`, and writes where it is to
`.venv/riscv64-board` (or why it could not to `.venv/riscv64-unavailable`).

A board is one user and mount namespace of its own (`unshare --user --map-root-user --mount`):
a private binfmt_misc there sends riscv64 ELF files to qemu (flag F: qemu is opened once, so it
runs inside the chroot too), so programs that start others (venv, pip, git, the formant server's
espeak-ng) work; the cached root is the lower layer of an overlay whose writes go to a temporary
directory; `/share` on the board is a host directory. All of it belongs to the namespace and goes
with its last process: this machine's binfmt_misc, mounts and the cached root stay as they were.
Programs start on the board through `nsenter` into that namespace and `chroot`, with the clean
environment a login shell would have.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
import contextlib
import os
from pathlib import Path
import shutil
import signal
import subprocess

ROOT = Path(__file__).resolve().parents[2]
BOARD_FILE = ROOT / ".venv" / "riscv64-board"
UNAVAILABLE_FILE = ROOT / ".venv" / "riscv64-unavailable"
START_TIMEOUT = 30.0
#: How long a program on the board may take to stop after SIGTERM before it is killed.
STOP_GRACE = 15.0
#: The ELF header of a riscv64 executable, and which of its bits to compare (Debian's qemu-user
#: registers the same pair in /usr/lib/binfmt.d/qemu-riscv64.conf).
ELF_MAGIC = r"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xf3\x00"
ELF_MASK = r"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff"
#: What a login shell on the board has; nothing of this machine's environment leaks in.
BOARD_ENV = {
    "HOME": "/root",
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
}
#: This machine's network settings, copied onto the board so pip reaches the package index the
#: way this machine does (a board has its own; these are the environment, not install steps).
NETWORK_FILES = (
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/pip.conf",
    "/etc/ssl/certs/ca-certificates.crt",
)


class BoardUnavailableError(RuntimeError):
    """No riscv64 board can run here; the message says why."""


def board_dir() -> Path:
    """The directory scripts/setup made (root/, qemu-riscv64-static), or why there is none."""
    if UNAVAILABLE_FILE.exists():
        raise BoardUnavailableError(f"scripts/setup: {UNAVAILABLE_FILE.read_text().strip()}")
    if not BOARD_FILE.exists():
        raise BoardUnavailableError(f"{BOARD_FILE} is missing: run scripts/setup")
    found = Path(BOARD_FILE.read_text().strip())
    if not (found / "root" / "usr" / "bin" / "python3").exists():
        raise BoardUnavailableError(f"{found} holds no riscv64 root: run scripts/setup")
    return found


def _holder_script(board: Path, work: Path) -> str:
    """The namespace's first process: binfmt, overlay, /dev, /proc, /sys, /share; then it waits."""
    merged, share = work / "merged", work / "share"
    qemu = board / "qemu-riscv64-static"
    lines = [
        "set -eu",
        f"mount -t binfmt_misc binfmt_misc {work / 'binfmt'}",
        f"printf '%s' ':anima-riscv64:M::{ELF_MAGIC}:{ELF_MASK}:{qemu}:F' > "
        f"{work / 'binfmt' / 'register'}",
        f"mount -t overlay overlay -o lowerdir={board / 'root'},upperdir={work / 'upper'},"
        f"workdir={work / 'overlay-work'} {merged}",
        *(f"mount --rbind /{name} {merged / name}" for name in ("dev", "proc", "sys")),
        f"mkdir -p {merged / 'share'} {merged / 'etc/ssl/certs'}",
        f"mount --bind {share} {merged / 'share'}",
        *(f"cp {path} {merged}{path}" for path in NETWORK_FILES if Path(path).exists()),
        "echo ready",
        "exec sleep infinity",
    ]
    return "\n".join(lines)


class Board:
    """One emulated riscv64 board; `start()` it, run programs on it, `stop()` it."""

    def __init__(self, board: Path, work: Path) -> None:
        """A board from scripts/setup's `board` directory, its writes kept under `work`."""
        self.board = board
        self.work = work
        #: A host directory that is `/share` on the board (files in, recordings out).
        self.share = work / "share"
        self._holder: subprocess.Popen[str] | None = None
        self._started: list[asyncio.subprocess.Process] = []

    def start(self) -> None:
        """Make the namespace; raises BoardUnavailableError if this machine cannot."""
        for name in ("binfmt", "upper", "overlay-work", "merged", "share"):
            (self.work / name).mkdir(parents=True, exist_ok=True)
        unshare = shutil.which("unshare")
        if unshare is None or shutil.which("nsenter") is None:
            raise BoardUnavailableError("needs unshare and nsenter (util-linux)")
        self._holder = subprocess.Popen(
            [
                unshare,
                "--user",
                "--map-root-user",
                "--mount",
                "sh",
                "-c",
                _holder_script(self.board, self.work),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        assert self._holder.stdout is not None
        if self._holder.stdout.readline().strip() != "ready":
            self._holder.wait(timeout=START_TIMEOUT)
            problem = self._holder.stderr.read() if self._holder.stderr else ""
            self._holder = None
            raise BoardUnavailableError(
                "could not make a user namespace with its own binfmt_misc and overlay "
                f"(kernel >= 6.7 and user namespaces needed): {problem.strip()}"
            )

    def command(self, argv: Sequence[str], env: dict[str, str] | None = None) -> list[str]:
        """The host command line that runs `argv` on the board, as root in its home."""
        assert self._holder is not None, "start() the board first"
        variables = [f"{key}={value}" for key, value in {**BOARD_ENV, **(env or {})}.items()]
        return [
            "nsenter", "--target", str(self._holder.pid), "--user", "--mount",
            "--preserve-credentials", "--",
            "chroot", str(self.work / "merged"), "/usr/bin/env", "-i", *variables,
            "sh", "-c", 'cd "$HOME" && exec "$@"', "sh", *argv,
        ]  # fmt: skip

    def run(self, script: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """Run a shell script on the board (`sh -e -x`), its output captured; raises on failure."""
        done = subprocess.run(
            self.command(["sh", "-e", "-x", "-c", script]),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise AssertionError(
                f"on the board, exit {done.returncode}: {script}\n{done.stdout[-4000:]}\n"
                f"{done.stderr[-4000:]}"
            )
        return done

    async def spawn(
        self, argv: Sequence[str], log: Path, env: dict[str, str] | None = None
    ) -> asyncio.subprocess.Process:
        """Start a long-running program on the board, output to `log`; it stops with the board."""
        with log.open("wb") as out:
            process = await asyncio.create_subprocess_exec(
                *self.command(argv, env),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: what it starts stops with it
            )
        self._started.append(process)
        return process

    @staticmethod
    async def end(process: asyncio.subprocess.Process, grace: float = STOP_GRACE) -> None:
        """SIGTERM to the program and what it started; SIGKILL if they have not gone in `grace`."""
        for signal_number in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal_number)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), grace)
                return

    def stop(self) -> None:
        """End every program started on the board, then the namespace (and with it its mounts)."""
        for process in self._started:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        self._started.clear()
        if self._holder is not None:
            self._holder.kill()
            self._holder.wait()
            self._holder = None
