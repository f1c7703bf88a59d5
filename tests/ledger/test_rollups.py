"""Rollups as the sensors will show them: per day, month, provider, profile, endpoint, kind."""

from __future__ import annotations

from datetime import UTC, date
from decimal import Decimal

from custom_components.anima.core.health import Attempt, Outcome
from custom_components.anima.core.ledger import (
    OUTCOME_FALLBACK,
    Kind,
    Ledger,
    MemoryStore,
    Period,
    Scope,
    UsageRecord,
)
from custom_components.anima.providers.base import Usage

from . import BERLIN, FakeClock, at, book, chat

DAY = 86400.0


def _kitchen_day(ledger: Ledger, when: float) -> None:
    """One voice turn in the kitchen (stt, chat, tts) and a camera question in the hall."""
    ledger.record(
        UsageRecord(
            when,
            "cloud",
            "openai",
            Kind.STT,
            model="stt-model",
            endpoint="kitchen",
            profile="family",
            audio_seconds=3.0,
        )
    )
    ledger.record(chat(when + 1, endpoint="kitchen", profile="family"))
    ledger.record(
        UsageRecord(
            when + 2,
            "cloud",
            "openai",
            Kind.TTS,
            model="tts-standard",
            endpoint="kitchen",
            profile="family",
            characters=200,
            characters_saved=40,
        )
    )
    ledger.record(
        chat(
            when + 3,
            provider="backup",
            kind=Kind.VISION,
            model="vision-model",
            images=1,
            endpoint="hall",
            profile="guest",
        )
    )


def test_day_rollup_by_provider_profile_endpoint_and_kind() -> None:
    ledger = Ledger(MemoryStore(), book())
    _kitchen_day(ledger, at("2026-05-04 12:00"))
    when = at("2026-05-04 18:00")
    stt, chat_cost, tts = Decimal("0.0003"), Decimal("0.00056"), Decimal("0.003")
    vision = Decimal("0.0034")  # 1,000 x 1/1M + 100 x 4/1M + 0.002

    total = ledger.day(when)
    assert total.records == 4
    assert total.cost == stt + chat_cost + tts + vision
    assert (total.input_tokens, total.output_tokens, total.images) == (2000, 200, 1)
    assert (total.tts_characters, total.characters_saved, total.audio_seconds) == (200, 40, 3.0)

    kitchen = ledger.day(when, scope=Scope.ENDPOINT, key="kitchen")
    assert (kitchen.records, kitchen.cost) == (3, stt + chat_cost + tts)
    assert ledger.day(when, scope=Scope.PROFILE, key="guest").cost == vision
    assert ledger.day(when, scope=Scope.PROVIDER, key="backup").cost == vision
    assert ledger.day(when, scope=Scope.KIND, key="tts").cost == tts
    assert ledger.day(when, scope=Scope.ENDPOINT, key="bedroom").records == 0

    by_provider = ledger.breakdown(Period.DAY, when, scope=Scope.PROVIDER)
    assert {name: t.cost for name, t in by_provider.items()} == {
        "cloud": stt + chat_cost + tts,
        "backup": vision,
    }


def test_month_adds_up_its_days_and_next_month_starts_empty() -> None:
    ledger = Ledger(MemoryStore(), book())
    for day in (1, 15, 31):
        _kitchen_day(ledger, at(f"2026-05-{day:02d} 12:00"))
    may = ledger.month(date(2026, 5, 1))
    assert may.records == 12
    assert may.cost == 3 * ledger.day(date(2026, 5, 1)).cost
    assert ledger.day(date(2026, 5, 2)).records == 0
    assert ledger.month(date(2026, 6, 1)).records == 0
    assert ledger.periods(Period.MONTH) == ["2026-05"]


def test_day_boundary_follows_the_users_time_zone() -> None:
    """00:30 in Berlin on 1 June is 22:30 UTC on 31 May: it counts on the Berlin day."""
    when = at("2026-06-01 00:30")
    berlin = Ledger(MemoryStore(), book(), tz=BERLIN)
    utc = Ledger(MemoryStore(), book())
    for ledger in (berlin, utc):
        ledger.record(chat(when))
    assert berlin.day(date(2026, 6, 1)).records == 1
    assert berlin.month(date(2026, 6, 1)).records == 1
    assert utc.day(date(2026, 5, 31)).records == 1
    assert utc.month(date(2026, 5, 1)).records == 1
    # "Today" at 23:59 Berlin on 31 May does not include it; at 00:00 on 1 June it does.
    assert berlin.day(at("2026-05-31 23:59")).records == 0
    assert berlin.day(at("2026-06-01 00:00")).records == 1


def test_tz_name_and_daylight_saving_day_bounds() -> None:
    ledger = Ledger(MemoryStore(), book(), tz="Europe/Berlin")
    start, end = ledger.day_bounds(at("2026-03-29 12:00"))  # clocks go forward: 23 hours
    assert (start, end) == (at("2026-03-29 00:00"), at("2026-03-30 00:00"))
    assert end - start == 23 * 3600
    month = ledger.month_bounds(at("2026-12-31 23:59"))
    assert month == (at("2026-12-01 00:00"), at("2027-01-01 00:00"))


def test_router_attempt_becomes_a_record() -> None:
    attempt = Attempt(
        "cloud", "chat-model", Outcome.OK, 0.8123, usage=Usage(input_tokens=10, output_tokens=5)
    )
    record = UsageRecord.from_attempt(
        attempt,
        preset="openai",
        kind=Kind.CHAT,
        when=1000.0,
        endpoint="kitchen",
        profile="family",
        fallback=True,
    )
    assert (record.provider, record.model, record.latency_ms) == ("cloud", "chat-model", 812)
    assert (record.input_tokens, record.output_tokens, record.outcome) == (10, 5, OUTCOME_FALLBACK)
    assert record.succeeded

    failed = UsageRecord.from_attempt(
        Attempt("cloud", "tts-neural", Outcome.FAILED, 2.0, "ProviderServerError"),
        preset="openai",
        kind=Kind.TTS,
        when=1000.0,
    )
    assert (failed.outcome, failed.succeeded, failed.characters) == ("failed", False, 0)
    spoken = UsageRecord.from_attempt(
        Attempt("cloud", "tts-neural", Outcome.OK, 0.3),
        preset="openai",
        kind=Kind.TTS,
        when=1000.0,
        voice="nova",
        usage=Usage(characters=120, audio_seconds=8.0),
        characters_saved=30,
    )
    assert (spoken.voice, spoken.characters, spoken.audio_seconds) == ("nova", 120, 8.0)
    ledger = Ledger(MemoryStore(), book(), tz=UTC)
    for item in (record, failed, spoken):
        ledger.record(item)
    assert ledger.day(1000.0).failed == 1


def test_raw_records_kept_30_days_rollups_13_months() -> None:
    clock = FakeClock(at("2025-01-15 12:00"))
    ledger = Ledger(MemoryStore(), book(), tz=BERLIN, clock=clock)
    start = clock.now
    for day in range(0, 500, 5):  # a call every fifth day for 500 days
        clock.now = start + day * DAY
        ledger.record(chat(clock.now, endpoint="kitchen"))
    last = clock.now  # 2026-05-25
    kept = ledger.records()
    assert kept[0].time >= last - 30 * DAY
    assert len(kept) == 7  # days 470 .. 495 of the last 30
    assert len(ledger.records(since=last - 6 * DAY)) == 2
    assert len(ledger.records(endpoint="hall")) == 0
    months = ledger.periods(Period.MONTH)
    assert months[0] == "2025-05"  # the current month and the twelve before it
    assert months[-1] == "2026-05"
    assert len(months) == 13
    assert ledger.periods(Period.DAY)[0] >= "2025-05-01"
    assert ledger.month(date(2025, 1, 1)).records == 0  # gone
    assert ledger.month(date(2025, 5, 1)).records > 0
