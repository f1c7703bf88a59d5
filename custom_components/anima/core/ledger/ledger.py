"""The cost ledger: one priced record per provider call, with daily and monthly rollups.

Pure domain logic: no Home Assistant imports. Every provider call (chat, vision, speech-to-text,
text-to-speech) becomes one `UsageRecord` (records.py); `Ledger.record` prices it with a
`PriceBook` (prices.py) and adds it to rollups per local day and per month (rollups.py), keyed by
total, provider (connection id), profile, endpoint (device id) and kind. The integration wraps
the ledger in sensors and passes a store (store.py).

Persistence and the loss bound
------------------------------
Records go to memory and, with a `journal` (journal.py), to an append-only file at once; the
ledger saves its state (records and rollups, consistent with each other) through the async `Store`
at most `flush_interval` seconds (default 10) after the first unsaved record, sooner when
`max_batch` (default 50) records are waiting, and on `close()`:

- a clean shutdown (`await ledger.close()`) loses nothing;
- a killed process loses nothing: the next start records again what the journal holds and the
  store does not; without a journal it loses at most the last `flush_interval` seconds;
- a record that arrives while a save runs waits for the next save (its own timer is armed);
- a save that fails loses nothing: the records stay in memory (and the journal), the save is
  retried every `flush_interval` seconds, and the first failure of a streak is logged once.

Retention: raw records for `raw_days` (default 30) days; daily and monthly rollups for
`rollup_months` (default 13) months: the current month and the twelve before it. Expired data
is dropped at the first record of each new day.

A store is written whole, so with one store every save rewrites 30 days of raw records (about
180 bytes each: megabytes for a busy house, every 10 s). Pass an `archive` store as well and the
main store keeps only the current day's records, its daily rollup and the monthly rollups (tens of
kilobytes), while the archive takes the closed days once a day. A day change saves the main store
first (still holding the days the archive has not confirmed) and then the archive, so a power cut
or a failing archive between the two never loses a day or counts one twice.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from datetime import UTC, tzinfo
import logging
import time
from typing import Any, Final
from zoneinfo import ZoneInfo

from .journal import Journal
from .plans import Plan, booked
from .prices import PriceBook
from .records import ZERO, Row, UsageRecord, record_from_row, row_of, stored_row
from .rollups import Calendar, MonthlyDevices, Period, Rollups, Scope, Totals, When, scope_key
from .store import STORAGE_VERSION, SaveSchedule, Store, checked

_LOGGER = logging.getLogger(__name__)
_DAY_SECONDS: Final = 86400.0


class Ledger(Calendar):
    """Prices and keeps every provider call; one instance per integration.

    `record` is synchronous (the router's attempts reach it) and must run on the event loop
    thread, where it schedules saves; without a running loop, call `flush` yourself. See the
    module docstring for the loss bound, retention and the optional `archive` store. Its local
    days and months are those of `tz` (a `Calendar`).
    """

    def __init__(
        self,
        store: Store,
        prices: PriceBook,
        *,
        archive: Store | None = None,
        journal: Journal | None = None,
        tz: tzinfo | str = UTC,
        clock: Callable[[], float] = time.time,
        flush_interval: float = 10.0,
        max_batch: int = 50,
        raw_days: int = 30,
        rollup_months: int = 13,
    ) -> None:
        if flush_interval <= 0 or max_batch < 1 or raw_days < 1 or rollup_months < 1:
            raise ValueError("flush_interval, max_batch, raw_days and rollup_months must be > 0")
        super().__init__(ZoneInfo(tz) if isinstance(tz, str) else tz, clock)
        self.prices = prices
        self.plans: dict[str, Plan] = {}  #: the connections' billing plans (plans.py)
        self.flush_interval = flush_interval
        self.max_batch = max_batch
        self.raw_days = raw_days
        self.rollup_months = rollup_months
        self._store = store
        self._archive = archive
        self._journal = journal
        # Raw rows of days before the current one (`_old`, archived) and of the current day.
        self._old: deque[Row] = deque()
        self._new: deque[Row] = deque()
        self._days: Rollups = {}
        self._months: Rollups = {}
        self.devices = MonthlyDevices()  #: who each connection answered, for licences
        # Serialised rollups per period key, rebuilt only for the periods touched since.
        self._saved_form: dict[Period, dict[str, dict[str, Any]]] = {p: {} for p in Period}
        self._touched: dict[Period, set[str]] = {p: set() for p in Period}
        self._span: tuple[float, float, str, str] | None = None  # the current local day
        self._cut, self._cut_key = float("-inf"), ""  # where the current day starts
        self._loaded = False
        # Saving.
        self._version = self._saved_version = 0
        self._archive_dirty = False
        # The start (time, day key) of the first day the archive does not hold, as last saved.
        self._confirmed: tuple[float, str] = (float("-inf"), "")
        self._unsaved = 0  # records not yet in a successful save
        self._lock = asyncio.Lock()
        self._schedule = SaveSchedule(
            self.flush,
            interval=flush_interval,
            max_batch=max_batch,
            unsaved=lambda: self._unsaved,
        )

    @property
    def currency(self) -> str:
        """The currency of `Totals.cost` (the price book's)."""
        return self.prices.currency

    @property
    def unsaved(self) -> int:
        """Records not yet saved: what a power cut now would lose."""
        return self._unsaved

    # --- recording ------------------------------------------------------------------------

    def record(self, record: UsageRecord) -> UsageRecord:
        """Price `record` (under its plan: plans.py), journal and keep it; return it priced."""
        plan, so_far, who = self.plans.get(record.provider), Totals(), record.provider
        if plan is not None:  # what the connection used this month, before this call
            so_far = self.totals(Period.MONTH, record.time, scope=Scope.PROVIDER, key=who)
        priced, saved, discount = booked(self.prices.price(record), plan, so_far, self.prices)
        row = row_of(priced)
        if self._journal is not None:
            self._journal.append(row)
        self._add(priced, row, saved, discount)
        self._changed(1)
        return priced

    def _add(self, priced: UsageRecord, row: Row, saved: Any = ZERO, discount: Any = ZERO) -> None:
        """Add a booked record to the rollups and the rows kept (a replay saved nothing)."""
        day, month = self._keys(priced.time)
        currency = self.prices.currency
        self.devices.add(month, priced)
        keys = ["total", f"provider:{priced.provider}", f"kind:{priced.kind}"]
        if priced.profile is not None:
            keys.append(f"profile:{priced.profile}")
        if priced.endpoint is not None:
            keys.append(f"endpoint:{priced.endpoint}")
        for period, rollups, period_key in (
            (Period.DAY, self._days, day),
            (Period.MONTH, self._months, month),
        ):
            bucket = rollups.get(period_key)
            if bucket is None:
                bucket = rollups[period_key] = {}
            for key in keys:
                totals = bucket.get(key)
                if totals is None:
                    totals = bucket[key] = Totals()
                totals.add(priced, currency, saved=saved, discount=discount)
            self._touched[period].add(period_key)
        if priced.time >= self._cut:
            self._new.append(row)
        else:  # a late record for a day already archived
            self._old.append(row)
            self._archive_dirty = True

    def _keys(self, when: float) -> tuple[str, str]:
        """Return the local day ("2026-01-31") and month ("2026-01") keys of `when`."""
        span = self._span
        if span is not None and span[0] <= when < span[1]:
            return span[2], span[3]
        day = self.local_date(when).isoformat()
        if span is None or when >= span[1]:
            start, end = self.day_bounds(when)
            self._span = (start, end, day, day[:7])
            self._advance(start, day)
        return day, day[:7]

    def _advance(self, start: float, day: str) -> None:
        """Start a new current day: yesterday's rows become archive rows; drop expired data."""
        if start <= self._cut:
            return
        self._cut, self._cut_key = start, day
        new, old = self._new, self._old
        if any(row[0] < start for row in new):
            self._new = deque(row for row in new if row[0] >= start)
            old.extend(row for row in new if row[0] < start)
        self._archive_dirty = True
        cutoff = start - self.raw_days * _DAY_SECONDS
        while old and old[0][0] < cutoff:
            old.popleft()
        today = self.local_date(start)
        months_back = today.year * 12 + today.month - 1 - (self.rollup_months - 1)
        oldest = f"{months_back // 12:04d}-{months_back % 12 + 1:02d}"
        self.devices.drop_before(today.isoformat()[:7])
        for period, rollups in ((Period.DAY, self._days), (Period.MONTH, self._months)):
            for key in [key for key in rollups if key[:7] < oldest]:
                del rollups[key]
                self._saved_form[period].pop(key, None)
                self._touched[period].discard(key)

    def totals(
        self,
        period: Period,
        when: When = None,
        *,
        scope: Scope = Scope.TOTAL,
        key: str | None = None,
    ) -> Totals:
        """Totals of one local day or month (`when`: a date, an epoch time, or None for now)."""
        rollups = self._days if period is Period.DAY else self._months
        bucket = rollups.get(self.period_key(period, when), {})
        totals = bucket.get(scope_key(scope, key))
        return Totals() if totals is None else totals.copy()

    def day(
        self, when: When = None, *, scope: Scope = Scope.TOTAL, key: str | None = None
    ) -> Totals:
        """Totals of one local day (today by default)."""
        return self.totals(Period.DAY, when, scope=scope, key=key)

    def month(
        self, when: When = None, *, scope: Scope = Scope.TOTAL, key: str | None = None
    ) -> Totals:
        """Totals of one local month (this month by default)."""
        return self.totals(Period.MONTH, when, scope=scope, key=key)

    def breakdown(self, period: Period, when: When = None, *, scope: Scope) -> dict[str, Totals]:
        """Totals of one day or month per provider, profile, endpoint or kind."""
        rollups = self._days if period is Period.DAY else self._months
        prefix = f"{scope}:"
        return {
            key.removeprefix(prefix): totals.copy()
            for key, totals in rollups.get(self.period_key(period, when), {}).items()
            if key.startswith(prefix)
        }

    def periods(self, period: Period) -> list[str]:
        """Return the day or month keys that have rollups, oldest first."""
        return sorted(self._days if period is Period.DAY else self._months)

    def records(
        self, *, since: float | None = None, endpoint: str | None = None
    ) -> list[UsageRecord]:
        """Raw records kept (the last `raw_days` days), oldest first, optionally filtered."""
        rows = [
            row
            for row in (*self._old, *self._new)
            if (since is None or row[0] >= since) and (endpoint is None or row[6] == endpoint)
        ]
        rows.sort(key=lambda row: float(row[0]))
        return [record_from_row(row) for row in rows]

    # --- persistence ----------------------------------------------------------------------

    async def load(self) -> None:
        """Read the saved state; call once, before or after the first records (they merge).

        With an archive, the archive holds the days before its "before" time and the main store
        the rest; a day the main store still holds although the archive has it too (the main
        store is trimmed on the save after the archive's) is read from the archive only.
        """
        if self._loaded:
            raise RuntimeError("the ledger was loaded already")
        self._loaded = True
        main = checked(await self._store.load())
        archived = checked(await self._archive.load()) if self._archive is not None else {}
        before = float(archived.get("before", float("-inf")))
        before_day = str(archived.get("before_day", ""))
        rows: list[Row] = []
        for data, keep in ((archived, None), (main, before)):
            saved = data.get("records", [])
            good = [row for row in map(stored_row, saved) if row is not None]
            if len(good) != len(saved):
                _LOGGER.warning("Ignored %s malformed ledger records", len(saved) - len(good))
            rows += good if keep is None else [row for row in good if float(row[0]) >= keep]
        for old in map(record_from_row, rows):  # calls recorded before `load` counted theirs
            self.devices.add(self.period_key(Period.MONTH, old.time), old)
        rows += [*self._old, *self._new]  # calls recorded before `load`
        self._old, self._new = deque(), deque(sorted(rows, key=lambda row: float(row[0])))
        self._confirmed = (before, before_day)
        for data, day_filter in ((archived, ""), (main, before_day)):
            saved_currency = str(data.get("currency", self.currency))
            for period, rollups in ((Period.DAY, self._days), (Period.MONTH, self._months)):
                for period_key, bucket in data.get(f"{period}s", {}).items():
                    if period is Period.DAY and period_key < day_filter:
                        continue
                    mine = rollups.setdefault(period_key, {})
                    for key, value in bucket.items():
                        totals = Totals.from_dict(value)
                        totals.rebase(saved_currency, self.currency)
                        mine.setdefault(key, Totals()).merge(totals)
                    self._touched[period].add(period_key)
        # Split the rows at the start of today and apply retention, as on a day change.
        start, _ = self.day_bounds()
        self._cut = float("-inf")
        self._advance(start, self.local_date(start).isoformat())
        if self._journal is not None:
            self._replay(await self._journal.read(), {tuple(row) for row in rows})

    def _replay(self, journaled: list[Row], saved: set[Row]) -> None:
        """Record again the journaled rows no store holds: calls made since the last save."""
        missing = [r for r in map(stored_row, journaled) if r is not None and r not in saved]
        for row in missing:
            self._add(record_from_row(row), row)
        if missing:
            _LOGGER.info("Recovered %s cost records from the journal", len(missing))
            self._changed(len(missing))

    def _changed(self, records: int) -> None:
        """Note a change of state and schedule a save."""
        self._version += 1
        self._unsaved += records
        self._schedule.changed(records)

    async def flush(self) -> None:
        """Save now if anything changed; on failure the records stay queued and it re-raises.

        With an archive, a day change saves the main store first (still holding every day the
        archive has not confirmed), then the archive; the main store drops those days on its
        next save. A failing archive therefore never loses a day.
        """
        async with self._lock:
            self._schedule.saving()
            archive_due = self._archive is not None and self._archive_dirty
            if self._version == self._saved_version and not archive_due:
                return
            # A new journal segment from here: the older ones hold only rows of this snapshot.
            segment = await self._journal.rotate() if self._journal is not None else 0
            version, unsaved = self._version, self._unsaved
            main, archived = self._snapshot()
            try:
                await self._store.save(main)
                self._saved_version = version
                self._unsaved -= unsaved
                if self._journal is not None:
                    await self._journal.drop_before(segment)
                if archived is not None and self._archive is not None:
                    self._archive_dirty = False
                    try:
                        await self._archive.save(archived)
                    except BaseException:
                        self._archive_dirty = True
                        raise
                    self._confirmed = (archived["before"], archived["before_day"])
            except BaseException:
                self._schedule.arm()  # retry after flush_interval
                raise

    async def close(self) -> None:
        """Save what is left (on unload or shutdown); re-raises a failing save."""
        self._schedule.disarm()
        await self._schedule.wait()
        try:
            await self.flush()
        finally:
            self._schedule.disarm()  # a failed save re-armed it; nobody would run it now

    def _snapshot(self) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Return the main and (when due) archive state, JSON-ready; never mutated later."""
        forms = self._saved_form
        for period, rollups in ((Period.DAY, self._days), (Period.MONTH, self._months)):
            for period_key in self._touched[period]:
                if period_key in rollups:
                    bucket = rollups[period_key]
                    forms[period][period_key] = {k: t.to_dict() for k, t in bucket.items()}
            self._touched[period] = set()
        head = {"version": STORAGE_VERSION, "currency": self.currency, "timezone": str(self.tz)}
        days = forms[Period.DAY]
        if self._archive is None:
            return {
                **head,
                "records": [*self._old, *self._new],
                "days": dict(days),
                "months": dict(forms[Period.MONTH]),
            }, None
        before, before_day = self._confirmed
        rows = list(self._new)
        if before < self._cut:  # days the archive does not hold yet stay in the main store
            rows[:0] = [row for row in self._old if row[0] >= before]
        main = {
            **head,
            "records": rows,
            "days": {key: form for key, form in days.items() if key >= before_day},
            "months": dict(forms[Period.MONTH]),
        }
        if not self._archive_dirty:
            return main, None
        return main, {
            **head,
            "before": self._cut,
            "before_day": self._cut_key,
            "records": list(self._old),
            "days": {key: form for key, form in days.items() if key < self._cut_key},
        }
