"""A killed process loses no record: the journal keeps what the last save did not have yet."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from custom_components.anima.core.ledger import MemoryStore, Scope
from custom_components.anima.core.ledger.journal import FileJournal

from . import chat, reopen

NOW = 1_780_000_000.0


async def _journal(directory: Path) -> FileJournal:
    journal = FileJournal(directory, "anima.ledger.journal")
    await journal.open()
    return journal


async def test_a_killed_process_loses_no_record(tmp_path: Path) -> None:
    store = MemoryStore()
    ledger = await reopen(store, journal=await _journal(tmp_path), clock=lambda: NOW + 60)
    ledger.record(chat(NOW, endpoint="kitchen"))
    await ledger.flush()  # saved: the journal keeps only what comes after
    for i in range(1, 4):
        ledger.record(chat(NOW + i, endpoint="kitchen"))
    # Killed: no close, no save; the store holds the first record only.
    assert len(store.data["records"]) == 1  # type: ignore[index]
    after = await reopen(store, journal=await _journal(tmp_path), clock=lambda: NOW + 120)
    assert after.records() == ledger.records()
    assert after.day(NOW, scope=Scope.ENDPOINT, key="kitchen") == ledger.day(
        NOW, scope=Scope.ENDPOINT, key="kitchen"
    )
    assert after.unsaved == 3  # recovered, and saved at the next flush
    await after.flush()
    assert len(list(tmp_path.iterdir())) == 1  # older segments dropped once the store has them
    # A second start counts nothing twice.
    again = await reopen(store, journal=await _journal(tmp_path), clock=lambda: NOW + 180)
    assert again.day(NOW).records == 4
    assert again.unsaved == 0
    for each in (ledger, after, again):
        await each.close()


async def test_a_line_cut_short_is_skipped_and_the_rest_recovered(tmp_path: Path) -> None:
    store = MemoryStore()
    ledger = await reopen(store, journal=await _journal(tmp_path), clock=lambda: NOW + 60)
    ledger.record(chat(NOW))
    ledger.record(chat(NOW + 1))
    (segment,) = tmp_path.iterdir()
    with segment.open("a") as file:
        file.write('[1780000002.0, "cloud", "ope')  # the disk filled up mid-line
    after = await reopen(store, journal=await _journal(tmp_path), clock=lambda: NOW + 120)
    assert after.day(NOW).records == 2
    for each in (ledger, after):
        await each.close()


async def test_a_full_disk_under_the_journal_stops_neither_records_nor_saves(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    journal = await _journal(tmp_path)
    monkeypatch.setattr("custom_components.anima.core.ledger.journal.os.write", full)
    store = MemoryStore()
    ledger = await reopen(store, journal=journal, clock=lambda: NOW + 60)
    ledger.record(chat(NOW))
    ledger.record(chat(NOW + 1))
    assert caplog.text.count("journal cannot be written") == 1  # once, not per record
    await ledger.flush()
    assert ledger.day(NOW).records == 2
    assert len(store.data["records"]) == 2  # type: ignore[index]
    await ledger.close()


async def test_a_journal_that_cannot_be_opened_is_logged_and_the_store_still_saves(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    taken = tmp_path / "ledger"
    taken.write_text("a file where the journal's directory should be")
    store = MemoryStore()
    ledger = await reopen(store, journal=await _journal(taken), clock=lambda: NOW + 60)
    assert caplog.text.count("journal cannot be opened") == 1
    ledger.record(chat(NOW))
    await ledger.flush()
    assert len(store.data["records"]) == 1  # type: ignore[index]
    assert taken.read_text() == "a file where the journal's directory should be"
    await ledger.close()


async def test_no_new_segment_keeps_appending_where_it_was_and_drops_nothing_unsaved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Opening the next segment fails (too many open files): no record is lost or doubled."""
    real_open = os.open

    def no_more_files(path: str | os.PathLike[str], flags: int, mode: int = 0o777) -> int:
        if Path(path).parent == tmp_path:
            raise OSError(errno.EMFILE, "Too many open files")
        return real_open(path, flags, mode)

    store = MemoryStore()
    ledger = await reopen(store, journal=await _journal(tmp_path), clock=lambda: NOW + 60)
    ledger.record(chat(NOW))
    await ledger.flush()
    ledger.record(chat(NOW + 1))
    monkeypatch.setattr("custom_components.anima.core.ledger.journal.os.open", no_more_files)
    await ledger.flush()  # saved, but the segment holding the record stays
    ledger.record(chat(NOW + 2))  # killed after this one: no save has it
    monkeypatch.undo()
    assert len(store.data["records"]) == 2  # type: ignore[index]
    after = await reopen(store, journal=await _journal(tmp_path), clock=lambda: NOW + 120)
    assert after.records() == ledger.records()
    assert after.day(NOW).records == 3
    assert after.unsaved == 1
    for each in (ledger, after):
        await each.close()


async def test_lines_that_are_not_records_are_ignored_and_counted_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = MemoryStore()
    ledger = await reopen(store, journal=await _journal(tmp_path), clock=lambda: NOW + 60)
    ledger.record(chat(NOW))
    (segment,) = tmp_path.iterdir()
    with segment.open("a") as file:
        file.write('{"time": 1780000002.0}\n42\nnot json\n')  # a file edited or damaged by hand
    ledger.record(chat(NOW + 1))
    after = await reopen(store, journal=await _journal(tmp_path), clock=lambda: NOW + 120)
    assert after.day(NOW).records == 2
    assert "Ignored 3 unreadable lines" in caplog.text
    for each in (ledger, after):
        await each.close()
