"""An append-only journal of the ledger's records, so a killed process loses none of them.

Pure: no Home Assistant imports. Each record is appended as one JSON line the moment it is
recorded, to the newest of numbered segment files (`<name>.<n>`). A save of the store starts a
new segment first and, once the store holds everything, deletes the older ones; at start, the
rows of the segments left over that the store does not hold are recorded again.

One line is one `os.write` on a file opened with O_APPEND: the kernel keeps it when the process
is killed (SIGKILL) at any moment, without an fsync, so appending costs a few microseconds on
the event loop (bench/faults.py measures it). A power cut can still lose what the kernel had not
written out: the store's own saves are fsynced (atomic writes) every few seconds.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path
import re
from typing import Protocol

from .records import Row

_LOGGER = logging.getLogger(__name__)


class Journal(Protocol):
    """Where records go the moment they are recorded (see the module docstring)."""

    def append(self, row: Row) -> None:
        """Keep one record's row now (no await: records are made on the event loop)."""
        ...

    async def rotate(self) -> int:
        """Start a new segment; return its number (older segments hold only saved rows)."""
        ...

    async def drop_before(self, segment: int) -> None:
        """Delete the segments older than `segment` (their rows are in the store now)."""
        ...

    async def read(self) -> list[Row]:
        """Return the rows of every segment left, oldest first."""
        ...


class FileJournal:
    """A `Journal` in segment files `<directory>/<name>.<n>`, one JSON row per line."""

    def __init__(self, directory: Path, name: str) -> None:
        """Journal into `directory`; call `open` (it does file I/O) before appending."""
        self._directory = directory
        self._name = name
        self._pattern = re.compile(rf"^{re.escape(name)}\.(\d+)$")
        self._fd: int | None = None
        self._segment = 0
        self._failing = False
        self._appended = False  # a row went into the current segment

    async def open(self) -> None:
        """Start a segment after the newest one left by an earlier run (none: no journal)."""
        try:
            segments = await asyncio.to_thread(self._segments)
            self._segment = (segments[-1] + 1) if segments else 1
            self._fd = await asyncio.to_thread(self._open, self._segment)
        except OSError as err:
            _LOGGER.warning("The cost ledger's journal cannot be opened: %s", err)

    def append(self, row: Row) -> None:
        """Write the row as one line; a failing disk is logged once and the store still saves."""
        if self._fd is None:
            return
        line = json.dumps(list(row), separators=(",", ":")) + "\n"
        try:
            os.write(self._fd, line.encode())
        except OSError as err:
            if not self._failing:
                _LOGGER.warning("The cost ledger's journal cannot be written: %s", err)
            self._failing = True
        else:
            self._failing = False
            self._appended = True

    async def rotate(self) -> int:
        """Append to a new segment from now on; return its number (the same one if none).

        A segment still empty is kept: saves retried while the disk refuses them would
        otherwise leave one empty file each.
        """
        if self._fd is not None and not self._appended:
            return self._segment
        segment = self._segment + 1
        try:
            fd = await asyncio.to_thread(self._open, segment)
        except OSError as err:  # keep appending where we are: nothing older is dropped then
            _LOGGER.debug("No new journal segment: %s", err)
            return self._segment
        old, self._fd, self._segment = self._fd, fd, segment
        self._appended = False
        if old is not None:
            await asyncio.to_thread(os.close, old)
        return segment

    async def drop_before(self, segment: int) -> None:
        """Delete the segments older than `segment`."""

        def drop() -> None:
            for number in self._segments():
                if number < segment:
                    (self._directory / f"{self._name}.{number}").unlink(missing_ok=True)

        await asyncio.to_thread(drop)

    async def read(self) -> list[Row]:
        """Return the rows of every segment, oldest first; a line cut short is skipped."""

        def read() -> list[Row]:
            rows: list[Row] = []
            bad = 0
            for number in self._segments():
                text = (self._directory / f"{self._name}.{number}").read_text(errors="replace")
                for line in text.splitlines():
                    try:
                        row = json.loads(line)
                    except ValueError:
                        bad += 1
                        continue
                    if isinstance(row, list):
                        rows.append(tuple(row))
                    else:
                        bad += 1
            if bad:
                _LOGGER.warning("Ignored %s unreadable lines of the cost ledger's journal", bad)
            return rows

        return await asyncio.to_thread(read)

    async def close(self) -> None:
        """Stop appending (on shutdown, after the last save)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            await asyncio.to_thread(os.close, fd)

    def _segments(self) -> list[int]:
        if not self._directory.is_dir():
            return []
        found = (self._pattern.match(path.name) for path in self._directory.iterdir())
        return sorted(int(match.group(1)) for match in found if match)

    def _open(self, segment: int) -> int:
        self._directory.mkdir(parents=True, exist_ok=True)
        path = self._directory / f"{self._name}.{segment}"
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
