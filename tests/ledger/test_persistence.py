"""What survives a restart or a power cut, and what a failing disk costs (nothing)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from custom_components.anima.core.ledger import Kind, Ledger, MemoryStore, Scope, UsageRecord
from custom_components.anima.core.ledger.records import row_of

from . import FakeClock, FlakyStore, GatedStore, JsonFileStore, book, chat, reopen

NOW = 1_780_000_000.0  # 2026-05-28 20:26 UTC
DAY = 86400.0


async def _open(store: Any, **kwargs: Any) -> Ledger:
    """Reopen `store` an hour after NOW (the ledger's clock decides what is past retention)."""
    return await reopen(store, clock=lambda: NOW + 3600, **kwargs)


def _json(data: dict[str, Any] | None) -> dict[str, Any] | None:
    """Return `data` after a trip through JSON, as a file store would give it back."""
    result: dict[str, Any] | None = json.loads(json.dumps(data))
    return result


async def _settle() -> None:
    """Let background saves started by `record` run."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_restart_keeps_records_and_rollups(tmp_path: Path) -> None:
    store = JsonFileStore(tmp_path / "anima.ledger")
    ledger = await _open(store)
    for i in range(20):
        ledger.record(chat(NOW + i, endpoint="kitchen", profile="family"))
    ledger.record(
        UsageRecord(NOW + 30, "cloud", "openai", Kind.TTS, model="tts-standard", characters=333)
    )
    await ledger.close()

    after = await _open(store)
    assert after.records() == ledger.records()
    for scope, key in ((Scope.TOTAL, None), (Scope.ENDPOINT, "kitchen"), (Scope.KIND, "tts")):
        assert after.day(NOW, scope=scope, key=key) == ledger.day(NOW, scope=scope, key=key)
        assert after.month(NOW, scope=scope, key=key) == ledger.month(NOW, scope=scope, key=key)
    assert after.day(NOW).cost == 20 * Decimal("0.00056") + Decimal("0.004995")

    # New calls after the restart add to what was there.
    after.record(chat(NOW + 60, endpoint="kitchen"))
    assert after.day(NOW, scope=Scope.ENDPOINT, key="kitchen").records == 21
    await after.close()


async def test_saved_within_the_flush_interval_without_shutdown() -> None:
    store = MemoryStore()
    ledger = await _open(store, flush_interval=0.05)
    ledger.record(chat(NOW))
    assert ledger.unsaved == 1
    await asyncio.sleep(0.2)  # longer than the interval; no flush() call
    assert ledger.unsaved == 0
    # A power cut now (no close): a new ledger sees the call.
    after = await _open(store)
    assert after.day(NOW).records == 1
    await ledger.close()


async def test_power_cut_loses_only_the_last_interval() -> None:
    """The loss bound: records younger than the flush interval may be lost, older ones not."""
    store = MemoryStore()
    ledger = await _open(store, flush_interval=0.05)
    ledger.record(chat(NOW, endpoint="kitchen"))
    await asyncio.sleep(0.2)
    ledger.record(chat(NOW + 1, endpoint="hall"))  # the cut comes before its save is due
    after = await _open(store)  # the power cut
    assert after.day(NOW, scope=Scope.ENDPOINT, key="kitchen").records == 1
    assert after.day(NOW, scope=Scope.ENDPOINT, key="hall").records == 0
    assert after.day(NOW).records == len(after.records()) == 1  # rollups match the records
    await ledger.close()


async def test_full_batch_is_saved_without_waiting_for_the_timer() -> None:
    store = MemoryStore()
    ledger = await _open(store, flush_interval=3600, max_batch=5)
    for i in range(4):
        ledger.record(chat(NOW + i))
    await _settle()
    assert store.saves == 0
    ledger.record(chat(NOW + 4))
    await _settle()
    assert store.saves == 1
    assert ledger.unsaved == 0
    await ledger.close()


async def test_record_arriving_during_a_save_is_not_lost() -> None:
    store = GatedStore()
    ledger = await _open(store, flush_interval=0.05)
    ledger.record(chat(NOW, endpoint="kitchen"))
    flushing = asyncio.create_task(ledger.flush())
    await store.started.wait()  # the save is under way, holding its snapshot
    ledger.record(chat(NOW + 1, endpoint="hall"))
    store.gate.set()
    await flushing
    assert ledger.unsaved == 1  # the late call was not in that save...
    await asyncio.sleep(0.2)
    assert ledger.unsaved == 0  # ...and its own timer saved it
    after = await _open(MemoryStore(store.data))
    assert after.day(NOW).records == 2
    await ledger.close()


async def test_failing_store_keeps_records_and_retries(caplog: pytest.LogCaptureFixture) -> None:
    store = FlakyStore(failures=2)
    ledger = await _open(store, flush_interval=0.05)
    for i in range(3):
        ledger.record(chat(NOW + i))
    with caplog.at_level(logging.WARNING):
        await asyncio.sleep(0.08)  # first save fails
        assert store.attempts == 1
        assert ledger.unsaved == 3
        ledger.record(chat(NOW + 10))
        await asyncio.sleep(0.4)  # second fails, third works
    assert store.attempts == 3
    assert ledger.unsaved == 0
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # one warning per streak, not one per retry
    assert "kept in memory" in warnings[0].getMessage()
    after = await _open(MemoryStore(store.data))
    assert after.day(NOW).records == 4
    await ledger.close()


async def test_shutdown_flush_reports_a_failing_store_and_keeps_records() -> None:
    store = FlakyStore(failures=1)
    ledger = await _open(store)
    ledger.record(chat(NOW))
    with pytest.raises(OSError, match="No space"):
        await ledger.close()
    assert ledger.unsaved == 1
    await ledger.close()  # the disk recovered
    assert (await _open(MemoryStore(store.data))).day(NOW).records == 1


async def test_currency_change_refiles_saved_costs() -> None:
    store = MemoryStore()
    ledger = await _open(store)
    ledger.record(chat(NOW))
    await ledger.close()
    after = await _open(store, prices=book(currency="EUR"))
    assert after.day(NOW).cost == 0  # dollars are not euros
    assert after.day(NOW).other_costs == {"USD": Decimal("0.00056")}


async def test_unknown_storage_version_is_refused() -> None:
    ledger = Ledger(MemoryStore({"version": 99}), book())
    with pytest.raises(ValueError, match="version 99"):
        await ledger.load()


async def test_restart_weeks_later_keeps_rollups_drops_old_raw_records() -> None:
    store = MemoryStore()
    ledger = await _open(store)
    ledger.record(chat(NOW))
    await ledger.close()
    later = await reopen(store, clock=lambda: NOW + 40 * 86400)
    assert later.records() == []  # raw records are kept 30 days
    assert later.month(NOW).records == 1  # the month's rollup is kept 13 months
    assert later.day(NOW).records == 1


async def _three_days(ledger: Ledger, clock: FakeClock) -> None:
    for day in range(3):
        clock.now = NOW + day * DAY
        for i in range(10):
            ledger.record(chat(clock.now + i, endpoint="kitchen"))
        await ledger.flush()


async def test_archive_takes_closed_days_so_frequent_saves_stay_small() -> None:
    clock = FakeClock(NOW)
    main, archive = MemoryStore(), MemoryStore()
    ledger = Ledger(main, book(), archive=archive, clock=clock)
    await ledger.load()
    await _three_days(ledger, clock)
    ledger.record(chat(clock.now + 60, endpoint="kitchen"))
    await ledger.flush()
    assert archive.saves == 3  # once per day, not once per save
    assert main.saves == 4
    assert main.data is not None
    assert archive.data is not None
    assert len(main.data["records"]) == 11  # today's calls only
    assert list(main.data["days"]) == ["2026-05-30"]
    assert len(archive.data["records"]) == 20
    after = Ledger(
        MemoryStore(_json(main.data)), book(), archive=MemoryStore(_json(archive.data)), clock=clock
    )
    await after.load()
    assert after.records() == ledger.records()
    assert [after.day(NOW + d * DAY).records for d in range(3)] == [10, 10, 11]
    assert after.month(NOW).records == 31
    await ledger.close()


async def test_power_cut_between_main_and_archive_saves_counts_each_call_once() -> None:
    clock = FakeClock(NOW)
    main, archive = MemoryStore(), FlakyStore()
    ledger = Ledger(main, book(), archive=archive, clock=clock)
    await ledger.load()
    for i in range(10):
        ledger.record(chat(NOW + i))
    await ledger.flush()
    clock.now = NOW + DAY
    ledger.record(chat(clock.now))
    archive.failures = 1
    with pytest.raises(OSError, match="No space"):
        await ledger.flush()  # the main store was saved, the archive was not

    async def after_cut() -> Ledger:
        after = Ledger(
            MemoryStore(_json(main.data)),
            book(),
            archive=MemoryStore(_json(archive.data)),
            clock=clock,
        )
        await after.load()
        return after

    after = await after_cut()
    assert (after.day(NOW).records, after.day(NOW + DAY).records) == (10, 1)
    assert after.month(NOW).records == len(after.records()) == 11
    await ledger.flush()  # the archive works again; the main store still holds yesterday
    assert archive.data is not None
    assert len(archive.data["records"]) == 10
    assert main.data is not None
    assert len(main.data["records"]) == 11
    after = await after_cut()
    assert (after.day(NOW).records, after.day(NOW + DAY).records) == (10, 1)
    assert after.month(NOW).records == len(after.records()) == 11
    await ledger.close()


async def test_rows_of_the_previous_version_load_with_the_new_fields_at_their_defaults() -> None:
    # A row as the first release stored it (19 fields: before cached_input_tokens, estimated).
    old = list(json.loads(json.dumps(row_of(book().price(chat(NOW, endpoint="kitchen"))))))[:19]
    store = MemoryStore(
        {"version": 1, "currency": "USD", "records": [old, ["not", "a", "row"], 7], "days": {}}
    )
    ledger = await _open(store)
    (record,) = ledger.records()
    assert (record.endpoint, record.input_tokens, record.cost) == (
        "kitchen",
        1000,
        Decimal("0.00056"),
    )
    assert (record.cached_input_tokens, record.estimated) == (0, False)
    # Saved again, the old row is written as it was, the new one at today's length.
    ledger.record(chat(NOW + 1, cached_input_tokens=512, estimated=True))
    await ledger.close()
    assert store.data is not None
    assert store.data["records"][0] == tuple(old)
    assert len(store.data["records"][1]) == 21
    again = (await _open(store)).records()
    assert again == ledger.records()
    assert (again[1].cached_input_tokens, again[1].estimated) == (512, True)
