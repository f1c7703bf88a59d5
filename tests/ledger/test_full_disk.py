"""A disk that refuses the ledger's saves: one log line, nothing lost, nothing piling up."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
import contextlib
import errno
import logging
from pathlib import Path
import resource
import signal

import pytest

from custom_components.anima.core.ledger.journal import FileJournal
from custom_components.anima.core.ledger.store import write_atomically

from . import FlakyStore, chat, reopen

NOW = 1_780_000_000.0


async def test_saves_failing_for_a_while_leave_one_line_and_no_pile_of_journal_segments(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = FileJournal(tmp_path, "anima.ledger.journal")
    await journal.open()
    store = FlakyStore(failures=40)
    ledger = await reopen(store, journal=journal, clock=lambda: NOW + 60, flush_interval=0.01)
    with caplog.at_level(logging.WARNING):
        ledger.record(chat(NOW))
        async with asyncio.timeout(10):
            while store.failures:  # forty saves fail, retried every 10 ms
                await asyncio.sleep(0.01)
        ledger.record(chat(NOW + 1))
        async with asyncio.timeout(10):
            while ledger.unsaved:
                await asyncio.sleep(0.01)
    failed = [r for r in caplog.records if "Saving the cost ledger failed" in r.getMessage()]
    assert len(failed) == 1
    assert not failed[0].exc_info  # a line, not a traceback
    assert "No space left on device" in failed[0].getMessage()
    assert len(list(tmp_path.iterdir())) <= 2  # not a new segment per retry
    assert store.data is not None
    assert len(store.data["records"]) == 2
    await ledger.close()
    await journal.close()


def test_an_atomic_write_the_disk_refuses_keeps_the_old_file_and_leaves_no_temporary(
    tmp_path: Path,
) -> None:
    path = tmp_path / "anima.ledger"
    write_atomically(path, b'{"old": true}')
    with _files_at_most(64 * 1024), pytest.raises(OSError, match="too large") as refused:
        write_atomically(path, b"x" * (1 << 20))  # the kernel refuses the bytes past the limit
    assert refused.value.errno == errno.EFBIG
    assert path.read_bytes() == b'{"old": true}'
    assert [p.name for p in tmp_path.iterdir()] == ["anima.ledger"]


@contextlib.contextmanager
def _files_at_most(size: int) -> Iterator[None]:
    """Let this process write files of at most `size` bytes (RLIMIT_FSIZE), as a full disk."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # refused writes raise instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, handler)
