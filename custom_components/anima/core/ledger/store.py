"""Where the ledger keeps its state, and when it saves it.

Pure domain logic: no Home Assistant imports (the integration passes a `Store` over Home
Assistant's storage helper's file format, written by `write_atomically`). `SaveSchedule` decides
when: `interval` seconds after the first unsaved change, at once when `max_batch` records wait,
once more when changes arrived during a save; a failing save is retried every `interval`
seconds, with one warning line per streak of failures.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
import contextlib
import logging
import os
from pathlib import Path
import tempfile
from typing import Any, Final, Protocol

_LOGGER = logging.getLogger(__name__)

STORAGE_VERSION: Final = 1


class Store(Protocol):
    """Where the ledger keeps its state (Home Assistant's `helpers.storage.Store` behind a shim)."""

    async def load(self) -> dict[str, Any] | None:
        """Return the last saved data, or None when nothing was saved yet."""
        ...

    async def save(self, data: dict[str, Any]) -> None:
        """Save `data` (JSON-ready; the ledger never mutates it afterwards)."""
        ...


class MemoryStore:
    """A `Store` in memory: for tests, benchmarks and a ledger that need not survive restarts."""

    def __init__(self, data: dict[str, Any] | None = None) -> None:
        self.data = data
        self.saves = 0

    async def load(self) -> dict[str, Any] | None:
        """Return what was saved last."""
        return self.data

    async def save(self, data: dict[str, Any]) -> None:
        """Keep `data`."""
        self.data = data
        self.saves += 1


def write_atomically(path: Path, data: bytes) -> None:
    """Replace the file at `path` with `data`, all or nothing and durably (fsync).

    Raises OSError when the disk refuses (full, failing, read-only): the old file stays, and no
    temporary file is left behind.
    """
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(directory)  # the rename itself survives a power cut
    finally:
        os.close(directory)


def checked(data: dict[str, Any] | None) -> dict[str, Any]:
    """Return saved data ({} for none) after checking its version."""
    if not data:
        return {}
    if data.get("version") != STORAGE_VERSION:
        raise ValueError(f"unsupported ledger data version {data.get('version')!r}")
    return data


class SaveSchedule:
    """Runs `save` in the background when enough has changed or enough time has passed."""

    def __init__(
        self,
        save: Callable[[], Awaitable[None]],
        *,
        interval: float,
        max_batch: int,
        unsaved: Callable[[], int],
    ) -> None:
        """`unsaved` says how many records a failed save left at risk (for the warning)."""
        self.interval = interval
        self.max_batch = max_batch
        self._save = save
        self._unsaved = unsaved
        self._batch = 0  # records since the last save started
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None
        self._again = False
        self._failing = False

    def changed(self, records: int) -> None:
        """Note `records` new records (0: another change) and schedule a save."""
        self._batch += records
        if self._batch >= self.max_batch:
            self.start()
        else:
            self.arm()

    def saving(self) -> None:
        """Start the batch and the timer over: a save begins, with everything changed so far."""
        self.disarm()
        self._batch = 0

    def arm(self) -> None:
        """Arm the timer unless it is armed (needs a running loop; else save by hand)."""
        if self._timer is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._timer = loop.call_later(self.interval, self.start)

    def disarm(self) -> None:
        """Cancel the timer, if armed."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def start(self) -> None:
        """Start a background save now (or once more after the one running)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self.disarm()
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = loop.create_task(self._run(), name="anima ledger save")

    async def wait(self) -> None:
        """Wait for a background save in progress, if any."""
        if self._task is not None and not self._task.done():
            await self._task

    async def _run(self) -> None:
        again = True
        while again:
            self._again = False
            try:
                await self._save()
            except Exception as err:  # noqa: BLE001 - any store failure: keep the records, retry
                if not self._failing:  # a disk's refusal is a line; anything else, a traceback
                    _LOGGER.warning(
                        "Saving the cost ledger failed (%s); %s records kept in memory and in "
                        "its journal, retrying every %s s",
                        err,
                        self._unsaved(),
                        self.interval,
                        exc_info=not isinstance(err, OSError),
                    )
                self._failing = True
                return
            if self._failing:
                _LOGGER.info("Saving the cost ledger works again")
                self._failing = False
            again = self._again
