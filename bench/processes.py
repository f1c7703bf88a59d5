"""The processes the latency benchmark runs beside Home Assistant.

- the provider service (bench/providers.py): every simulated cloud call of both stacks;
- Anima's real satellites (bench/satellites.py);
- the real local servers of the local profile (Whisper, Piper: scripts/speech-server).

Each in a process of its own, so what is measured is Home Assistant with each stack, not a
simulator or a satellite sharing its event loop.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
import json
import os
from pathlib import Path
import sys
from types import TracebackType
from typing import Self
import urllib.request

from scripts.hassctl import free_port
from tests.fixtures.processes import serving
from tests.fixtures.speech_servers import SpeechServer, _answers_describe

ROOT = Path(__file__).resolve().parent.parent
type Traceback = TracebackType | None


class Process:
    """A child process of the benchmark that says `ready ...` on stdout once it serves."""

    def __init__(self, *args: str) -> None:
        """Run `python -m <args>` from the repository root."""
        self.args = args
        self.ready: list[str] = []
        self._process: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> Self:
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            *self.args,
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        async with asyncio.timeout(60):
            while (words := (await self.readline()).split())[:1] != ["ready"]:
                if not words:
                    raise RuntimeError(f"{self.args[0]} ended before it was ready")
        self.ready = words[1:]
        return self

    @property
    def process(self) -> asyncio.subprocess.Process:
        """The running child."""
        if self._process is None:
            raise RuntimeError(f"{self.args[0]} is not running")
        return self._process

    async def readline(self) -> str:
        """The next line the process printed ("" once it ended)."""
        assert self.process.stdout is not None
        return (await self.process.stdout.readline()).decode()

    def send(self, line: str) -> None:
        """Write one line to the process's stdin."""
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: Traceback
    ) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()  # the child's signal to stop
        try:
            async with asyncio.timeout(10):
                await self.process.wait()
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


class Providers(Process):
    """The provider service (bench/providers.py)."""

    def __init__(self) -> None:
        """Simulate the zero profile until told otherwise."""
        super().__init__("bench.providers")

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible API's base URL."""
        return f"http://127.0.0.1:{self.ready[0]}/v1"

    async def script(self, profile: str, answer: str) -> None:
        """Simulate `profile` from now on, hearing the `answer` ("short", "long") question."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.ready[1]}/script",
            data=json.dumps({"profile": profile, "answer": answer}).encode(),
            headers={"Content-Type": "application/json"},
        )
        await asyncio.to_thread(urllib.request.urlopen, request, timeout=10)


class Satellites(Process):
    """Anima's satellites in a process of their own (bench/satellites.py)."""

    def __init__(self, mic: Path, ports: Sequence[int], *, realtime: bool = False) -> None:
        """Serve one satellite per port, each asking what `mic` says (at its pace: realtime)."""
        pace = ("--realtime",) if realtime else ()
        super().__init__("bench.satellites", *pace, str(mic), *map(str, ports))
        self._timings: dict[int, asyncio.Queue[dict[str, float | None]]] = defaultdict(
            asyncio.Queue
        )
        self._reader: asyncio.Task[None] | None = None
        #: What each satellite measured for the question it asked when it was adopted.
        self.adoption: list[float] = []

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: Traceback
    ) -> None:
        await super().__aexit__(kind, error, tb)
        if self._reader is not None:
            self._reader.cancel()

    async def _read(self) -> None:
        while line := await self.readline():
            words = line.split()
            if words[:1] == ["timing"]:
                end, first, delay = (None if w == "-" else float(w) for w in words[2:5])
                self._timings[int(words[1])].put_nowait(
                    {"speech_end": end, "first_sample": first, "delay_ms": delay}
                )

    async def ask(self, *indices: int, timeout: float = 120) -> list[float]:
        """Have satellites ask at once; each one's ms from its last speech to its first sample."""
        self.send("speak " + " ".join(map(str, indices)))
        async with asyncio.timeout(timeout):
            timings = [await self._timings[index].get() for index in indices]
        delays = [timing["delay_ms"] for timing in timings]
        if any(delay is None for delay in delays):
            raise RuntimeError(f"a reply without a request: {timings}")
        return [float(delay) for delay in delays if delay is not None]

    async def replied(self, index: int, timeout: float = 120) -> float:
        """Wait for a satellite's reply to what it asked by itself (when adopted); its ms."""
        async with asyncio.timeout(timeout):
            delay = (await self._timings[index].get())["delay_ms"]
        if delay is None:
            raise RuntimeError("a reply without a request")
        return delay


@contextmanager
def speech_server(kind: str, folder: Path) -> Iterator[SpeechServer]:
    """Run a real Wyoming server (piper, whisper) the way scripts/develop does."""
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    command = [str(ROOT / "scripts" / "speech-server"), kind, str(port), str(folder / "data")]
    check = lambda: _answers_describe(port)  # noqa: E731
    with serving(command, folder / "server.log", check, what=f"{kind} server", timeout=120) as p:
        yield SpeechServer("127.0.0.1", port, p)


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system) a process has used so far, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
