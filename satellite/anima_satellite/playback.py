"""Reply audio played as it arrives, and nothing kept once it played.

A `Playback` is one stream of raw PCM to the speaker: the playback command (its stdin, started
when the stream starts so its start-up overlaps the network) and/or a file. Chunks are written
as they come, after a small jitter buffer (`jitter_s` of audio, or that long after the first
chunk, whichever comes first), so a chunk that is a little late does not make the speaker
stutter at the start. What was written is forgotten.

Bounded: the stream's format must be a plausible PCM format, its length at most `MAX_REPLY_S`
of audio and `MAX_REPLY_BYTES`, and it must end within `MAX_REPLY_S` + `REPLY_GRACE_S` of its
start; a playback command that stops reading for `STALL_S` is killed. A stream over a bound
raises `ReplyRejectedError` (from `feed`) or calls `on_failed` (the time bounds).

Python >= 3.11 (Debian 12 boards): no newer syntax here.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
import contextlib
from dataclasses import dataclass
import logging
from pathlib import Path
import time
from typing import IO

_LOGGER = logging.getLogger(__name__)

MAX_REPLY_S = 180.0
MAX_REPLY_BYTES = 16 * 1024 * 1024
#: Wall time beyond the reply's longest length for the stream to end and finish playing.
REPLY_GRACE_S = 30.0
STALL_S = 10.0
JITTER_S = 0.05


class ReplyRejectedError(Exception):
    """A reply stream broke a bound; `code` says which."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class _PlaybackStalledError(Exception):
    """The playback command stopped reading."""


@dataclass(frozen=True)
class PcmFormat:
    """Raw PCM: samples per second, bytes per sample, channels."""

    rate: int
    width: int
    channels: int

    def check(self) -> None:
        """Raise ReplyRejectedError unless this is a format a speaker plays."""
        plausible = (
            all(type(value) is int for value in (self.rate, self.width, self.channels))
            and 4000 <= self.rate <= 192_000
            and 1 <= self.width <= 4
            and 1 <= self.channels <= 8
        )
        if not plausible:
            raise ReplyRejectedError("bad_format", f"not a PCM format: {self}")

    @property
    def bytes_per_second(self) -> int:
        """Bytes of one second of audio."""
        return self.rate * self.width * self.channels


@dataclass(frozen=True)
class Sinks:
    """Where audio goes: a playback command (raw PCM on its stdin) and/or a file (appended)."""

    command: Sequence[str] = ()
    file: Path | None = None


class Playback:
    """One PCM stream to the sinks, written as it arrives."""

    def __init__(
        self,
        sinks: Sinks,
        pcm_format: PcmFormat,
        *,
        jitter_s: float = JITTER_S,
        keep: bool = False,
        on_first_sample: Callable[[float], None] | None = None,
        on_failed: Callable[[ReplyRejectedError], None] | None = None,
    ) -> None:
        """Start playing (call from the event loop); `keep` records the audio (tests only)."""
        pcm_format.check()
        self.sinks, self.format, self.jitter_s = sinks, pcm_format, jitter_s
        self.kept: bytearray | None = bytearray() if keep else None
        self._on_first_sample, self._on_failed = on_first_sample, on_failed
        self._chunks: deque[bytes] = deque()
        self._queued = self._total = 0
        self._more = asyncio.Event()
        self._ended = False
        self._limit = min(MAX_REPLY_BYTES, int(MAX_REPLY_S * pcm_format.bytes_per_second))
        self._deadline = asyncio.get_running_loop().time() + MAX_REPLY_S + REPLY_GRACE_S
        self._written = False
        self._task = asyncio.create_task(self._run(), name="playback")

    def feed(self, pcm: bytes) -> None:
        """Queue audio; ReplyRejectedError when the stream gets longer than allowed."""
        if self._ended or not pcm:
            return
        self._total += len(pcm)
        if self._total > self._limit:
            self.stop()
            raise ReplyRejectedError(
                "reply_too_long", f"a reply longer than {self._limit} bytes of audio"
            )
        self._chunks.append(pcm)
        self._queued += len(pcm)
        self._more.set()

    def end(self) -> None:
        """No more audio: play what is queued, then finish."""
        self._ended = True
        self._more.set()

    async def done(self) -> bool:
        """Wait until everything played; False when it did not (stopped, failed)."""
        await asyncio.wait({self._task})
        return not self._task.cancelled() and self._task.result()

    def stop(self) -> None:
        """Stop now: drop what is queued, end the playback command."""
        self._ended = True
        self._chunks.clear()
        self._task.cancel()

    async def _run(self) -> bool:
        process: asyncio.subprocess.Process | None = None
        out: IO[bytes] | None = None
        try:
            async with asyncio.timeout_at(self._deadline):
                if self.sinks.command:
                    process = await self._start_command()
                if self.sinks.file is not None:
                    out = self.sinks.file.open("ab")
                await self._prebuffer()
                while True:
                    while self._chunks:
                        pcm = self._chunks.popleft()
                        self._queued -= len(pcm)
                        await self._write(pcm, process, out)
                    if self._ended:
                        break
                    self._more.clear()
                    await self._more.wait()
                if process is not None and process.stdin is not None:
                    process.stdin.close()
                    with contextlib.suppress(ConnectionError):
                        await process.stdin.wait_closed()
                    await process.wait()  # the speaker has played the last sample
        except TimeoutError:
            self._fail("reply_too_slow", f"a reply that did not end within {MAX_REPLY_S:g} s")
            return False
        except _PlaybackStalledError as err:
            _LOGGER.warning("Playback stopped: %s", err)  # the speaker's fault, not the peer's
            return False
        finally:
            if out is not None:
                out.close()
            if process is not None and process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await asyncio.shield(process.wait())
        return True

    async def _start_command(self) -> asyncio.subprocess.Process | None:
        try:
            return await asyncio.create_subprocess_exec(
                *self.sinks.command, stdin=asyncio.subprocess.PIPE
            )
        except OSError as err:
            _LOGGER.warning("Cannot start the playback command %s: %s", self.sinks.command[0], err)
            return None

    async def _prebuffer(self) -> None:
        """Wait for the first chunk, then for `jitter_s` of audio or that much time."""
        while not self._chunks and not self._ended:
            self._more.clear()
            await self._more.wait()
        wanted = self.jitter_s * self.format.bytes_per_second
        until = asyncio.get_running_loop().time() + self.jitter_s
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout_at(until):
                while self._queued < wanted and not self._ended:
                    self._more.clear()
                    await self._more.wait()

    async def _write(
        self, pcm: bytes, process: asyncio.subprocess.Process | None, out: IO[bytes] | None
    ) -> None:
        if not self._written:
            self._written = True
            if self._on_first_sample is not None:
                self._on_first_sample(time.monotonic())
        if self.kept is not None:
            self.kept += pcm
        if out is not None:
            out.write(pcm)
        if process is not None and process.stdin is not None and not process.stdin.is_closing():
            process.stdin.write(pcm)
            try:
                async with asyncio.timeout(STALL_S):
                    await process.stdin.drain()
            except TimeoutError:
                raise _PlaybackStalledError(
                    f"the playback command read nothing for {STALL_S:g} s"
                ) from None
            except ConnectionError:
                _LOGGER.warning("The playback command %s ended early", self.sinks.command[0])
                process.stdin.close()

    def _fail(self, code: str, message: str) -> None:
        if self._on_failed is not None:
            self._on_failed(ReplyRejectedError(code, message))
        else:
            _LOGGER.warning("Playback stopped: %s", message)
