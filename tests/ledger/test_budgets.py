"""Budgets as a household meets them: warnings, limits, midnight, the first, and lifting."""

from __future__ import annotations

from dataclasses import astuple
from decimal import Decimal
from itertools import pairwise

import pytest

from custom_components.anima.core.budgets import (
    DEGRADATION,
    HOUSE,
    Budget,
    BudgetConfig,
    Budgets,
    Degradation,
    Level,
    Target,
    degradation_for,
)
from custom_components.anima.core.ledger import Ledger, MemoryStore, Period

from . import BERLIN, FakeClock, at, book, chat

# One call of 100,000 input tokens at 0.40/1M and no output costs exactly 0.04.
CALL = Decimal("0.04")


def _spend(ledger: Ledger, when: float, calls: int, endpoint: str = "kitchen") -> None:
    for i in range(calls):
        ledger.record(chat(when + i, endpoint=endpoint, input_tokens=100_000, output_tokens=0))


def _ledger(now: str = "2026-05-04 12:00") -> tuple[Ledger, FakeClock]:
    clock = FakeClock(at(now))
    return Ledger(MemoryStore(), book(), tz=BERLIN, clock=clock), clock


def test_levels_warning_at_80_percent_exceeded_at_100() -> None:
    ledger, clock = _ledger()
    budgets = Budgets(BudgetConfig(house=Budget(daily=Decimal("1.00"))))
    _spend(ledger, clock.now, 19)  # 0.76
    assert budgets.evaluate(ledger).level is Level.NORMAL
    _spend(ledger, clock.now, 1)  # 0.80
    status = budgets.evaluate(ledger)
    assert status.level is Level.WARNING
    assert status.tripped is not None
    assert (status.tripped.target, status.tripped.period) == (Target.HOUSE, Period.DAY)
    assert (status.tripped.spent, status.tripped.limit) == (Decimal("0.80"), Decimal("1.00"))
    _spend(ledger, clock.now, 5)  # 1.00
    assert budgets.evaluate(ledger).level is Level.EXCEEDED
    assert status.currency == "USD"


def test_endpoint_budget_trips_only_that_endpoint_house_trips_all() -> None:
    ledger, clock = _ledger()
    budgets = Budgets(
        BudgetConfig(
            house=Budget(daily=Decimal("2.00")),
            endpoints={"kids": Budget(daily=Decimal("0.20"))},
        )
    )
    _spend(ledger, clock.now, 5, endpoint="kids")  # 0.20: the kids' limit
    kids = budgets.evaluate(ledger, clock.now, "kids")
    assert kids.level is Level.EXCEEDED
    assert kids.tripped is not None
    assert kids.tripped.target is Target.ENDPOINT
    assert budgets.evaluate(ledger, clock.now, "kitchen").level is Level.NORMAL

    _spend(ledger, clock.now, 40, endpoint="kitchen")  # house: 1.80 of 2.00
    kitchen = budgets.evaluate(ledger, clock.now, "kitchen")
    assert kitchen.level is Level.WARNING
    assert kitchen.tripped is not None
    assert kitchen.tripped.target is Target.HOUSE
    # The kids stay exceeded: the worse of their own and the house's level.
    statuses = budgets.evaluate_all(ledger, clock.now, ["kitchen"])
    assert {key: s.level for key, s in statuses.items()} == {
        HOUSE: Level.WARNING,
        "kids": Level.EXCEEDED,
        "kitchen": Level.WARNING,
    }


def test_daily_budget_resets_at_local_midnight() -> None:
    ledger, clock = _ledger("2026-05-04 23:00")
    budgets = Budgets(BudgetConfig(house=Budget(daily=Decimal("0.40"))))
    _spend(ledger, clock.now, 10)
    status = budgets.evaluate(ledger, at("2026-05-04 23:59:59"))
    assert status.level is Level.EXCEEDED
    assert status.tripped is not None
    assert status.tripped.resets_at == at("2026-05-05 00:00")  # Berlin midnight, 22:00 UTC
    assert budgets.evaluate(ledger, at("2026-05-05 00:00")).level is Level.NORMAL


def test_monthly_budget_holds_across_days_and_resets_on_the_first() -> None:
    ledger, _ = _ledger()
    budgets = Budgets(BudgetConfig(house=Budget(daily=Decimal("1.00"), monthly=Decimal("2.00"))))
    for day in range(10, 31, 10):  # 0.80 on each of three days: 2.40 in May
        _spend(ledger, at(f"2026-05-{day} 09:00"), 20)
    status = budgets.evaluate(ledger, at("2026-05-31 20:00"))
    assert status.level is Level.EXCEEDED
    assert status.tripped is not None
    assert status.tripped.period is Period.MONTH
    assert status.tripped.spent == Decimal("2.40")
    assert status.tripped.resets_at == at("2026-06-01 00:00")
    # The daily budget of a quiet day is normal, the month still trips it.
    assert budgets.evaluate(ledger, at("2026-05-31 20:00")).checks[0].level is Level.NORMAL
    assert budgets.evaluate(ledger, at("2026-06-01 00:00")).level is Level.NORMAL


def test_lift_suspends_until_end_of_day_then_budget_is_back() -> None:
    ledger, clock = _ledger("2026-05-20 18:00")
    budgets = Budgets(BudgetConfig(house=Budget(monthly=Decimal("1.00"))))
    _spend(ledger, clock.now, 30)  # 1.20 this month
    assert budgets.evaluate(ledger).level is Level.EXCEEDED

    until = budgets.lift(ledger, HOUSE, now=clock.now)
    assert until == at("2026-05-21 00:00")
    lifted = budgets.evaluate(ledger)
    assert lifted.level is Level.NORMAL
    assert lifted.checks[0].lifted_until == until
    assert lifted.checks[0].spent == Decimal("1.20")  # still shown
    assert lifted.degradation == Degradation()

    clock.now = at("2026-05-21 00:00")  # the monthly budget is still spent
    assert budgets.evaluate(ledger).level is Level.EXCEEDED
    assert budgets.lifts_to_dict() == {}


def test_lifting_an_endpoint_leaves_the_house_budget() -> None:
    ledger, clock = _ledger()
    budgets = Budgets(
        BudgetConfig(
            house=Budget(daily=Decimal("1.00")),
            endpoints={"kitchen": Budget(daily=Decimal("0.10"))},
        )
    )
    _spend(ledger, clock.now, 5)  # kitchen 0.20 of 0.10; house 0.20 of 1.00
    budgets.lift(ledger, "kitchen", now=clock.now)
    assert budgets.evaluate(ledger, endpoint="kitchen").level is Level.NORMAL
    _spend(ledger, clock.now, 20)  # house 1.00
    status = budgets.evaluate(ledger, endpoint="kitchen")
    assert status.level is Level.EXCEEDED
    assert status.tripped is not None
    assert status.tripped.target is Target.HOUSE


def test_lifts_survive_a_restart_until_they_end() -> None:
    ledger, clock = _ledger()
    budgets = Budgets()
    budgets.lift(ledger, HOUSE, now=clock.now)
    budgets.lift(ledger, "kitchen", now=clock.now, until=clock.now + 60)
    saved = budgets.lifts_to_dict()
    restored = Budgets()
    restored.restore_lifts(saved, now=clock.now + 120)  # the kitchen's lift has ended
    assert restored.lifted_until(HOUSE, clock.now + 120) == at("2026-05-05 00:00")
    assert restored.lifted_until("kitchen", clock.now + 120) is None


def test_zero_budget_means_no_cloud_spend() -> None:
    ledger, _ = _ledger()
    budgets = Budgets(BudgetConfig(endpoints={"kids": Budget(daily=Decimal(0))}))
    status = budgets.evaluate(ledger, endpoint="kids")
    assert status.level is Level.EXCEEDED
    assert status.degradation.local_only


def test_degradation_mapping() -> None:
    assert degradation_for(Level.NORMAL) == Degradation(0, False, False, False)
    # Warning: one voice tier cheaper, cheapest model first, still the cloud.
    assert degradation_for(Level.WARNING) == Degradation(
        tier_steps_down=1, prefer_cheapest=True, local_only=False, earcon_first=False
    )
    # Exceeded: local voices and models only, an earcon first; never silent (no mute field).
    assert degradation_for(Level.EXCEEDED) == Degradation(
        tier_steps_down=1, prefer_cheapest=True, local_only=True, earcon_first=True
    )
    # Each level keeps everything the one below does.
    levels = sorted(Level, key=lambda level: level.severity)
    for lower, higher in pairwise(levels):
        assert all(
            h >= lo
            for lo, h in zip(astuple(DEGRADATION[lower]), astuple(DEGRADATION[higher]), strict=True)
        )


def test_config_round_trips_and_rejects_nonsense() -> None:
    config = BudgetConfig.from_dict(
        {
            "house": {"daily": 2, "monthly": "30.50"},
            "endpoints": {"kitchen": {"daily": 0.5}},
            "warning_at": "0.9",
        }
    )
    assert config.house == Budget(Decimal(2), Decimal("30.50"))
    assert config.endpoints["kitchen"].daily == Decimal("0.5")
    assert BudgetConfig.from_dict(config.to_dict()) == config
    assert BudgetConfig.from_dict(None) == BudgetConfig()
    with pytest.raises(ValueError, match="daily"):
        Budget.from_dict({"daily": "-1"})
    with pytest.raises(ValueError, match="weekly"):
        Budget.from_dict({"weekly": 1})
    with pytest.raises(ValueError, match="warning_at"):
        BudgetConfig(warning_at=Decimal("1.5"))
