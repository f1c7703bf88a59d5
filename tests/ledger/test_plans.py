"""Billing plans: a per-device licence, a prepaid package, and this month under each plan."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from custom_components.anima.core.ledger import (
    Kind,
    Ledger,
    MemoryStore,
    Plan,
    PlanError,
    PlanKind,
    PlanUnit,
    Scope,
    Totals,
    UsageRecord,
    month_costs,
    plan_in_use,
    plans_from_options,
)
from custom_components.anima.core.ledger.plans import covers

from . import at, book, chat, reopen

NOW = at("2026-03-20 12:00")


def tts(when: float, characters: int, **kwargs: Any) -> UsageRecord:
    """A call of the per-character voice on "cloud" (15 per 1M characters)."""
    return UsageRecord(
        when, "cloud", "openai", Kind.TTS, model="tts-standard", characters=characters, **kwargs
    )


def stt(when: float, seconds: float) -> UsageRecord:
    """A call of the speech-to-text model on "cloud" (0.006 a minute)."""
    return UsageRecord(when, "cloud", "openai", Kind.STT, model="stt-model", audio_seconds=seconds)


def _month(ledger: Ledger) -> Totals:
    """This month of connection "cloud"."""
    return ledger.month(NOW, scope=Scope.PROVIDER, key="cloud")


def _ledger(plan: Plan | None) -> Ledger:
    ledger = Ledger(MemoryStore(), book(), clock=lambda: NOW, tz="Europe/Berlin")
    if plan is not None:
        ledger.plans["cloud"] = plan
    return ledger


def test_a_licence_makes_every_call_free_at_the_margin() -> None:
    ledger = _ledger(Plan(PlanKind.PER_DEVICE, "USD", fee=Decimal(3)))
    record = ledger.record(chat(NOW, endpoint="kitchen"))
    assert record.cost == 0
    month = _month(ledger)
    assert month.cost == 0
    assert month.discount == Decimal("0.00056")  # the price list's 1,000 in + 100 out
    assert ledger.month(NOW).cost == 0  # budgets read this: nothing more to pay


def test_a_package_is_free_until_its_quota_then_charges_its_overage() -> None:
    package = Plan(
        PlanKind.PACKAGE,
        "USD",
        fee=Decimal(5),
        included=Decimal(1000),
        unit=PlanUnit.CHARACTERS,
        overage=Decimal(30),  # per 1M characters beyond, twice the price list's 15
    )
    ledger = _ledger(package)
    assert ledger.record(tts(NOW, 600)).cost == 0
    # 400 of these 600 characters are inside the quota, 200 beyond: 200 x 30 / 1M.
    assert ledger.record(tts(NOW + 1, 600)).cost == Decimal("0.006")
    assert ledger.record(tts(NOW + 2, 100)).cost == Decimal("0.003")
    # A chat call uses no characters: the package does not cover it, the price list does.
    assert ledger.record(chat(NOW + 3)).cost == Decimal("0.00056")


def test_a_package_without_an_overage_price_falls_back_to_the_price_list() -> None:
    package = Plan(
        PlanKind.PACKAGE, "USD", fee=Decimal(5), included=Decimal(2), unit=PlanUnit.CALLS
    )
    ledger = _ledger(package)
    costs = [ledger.record(chat(NOW + n)).cost for n in range(3)]
    assert costs == [0, 0, Decimal("0.00056")]
    # A failed call is not one of the package's calls.
    ledger = _ledger(package)
    ledger.record(chat(NOW, outcome="failed", input_tokens=0, output_tokens=0))
    assert [ledger.record(chat(NOW + n)).cost for n in (1, 2)] == [0, 0]


def test_fees_in_another_currency_are_converted() -> None:
    package = Plan(
        PlanKind.PACKAGE,
        "CNY",
        fee=Decimal(10),
        included=Decimal(0),
        unit=PlanUnit.TOKENS,
        overage=Decimal(7),  # CNY per 1M tokens
    )
    ledger = Ledger(MemoryStore(), book(rates={"CNY": "0.125"}), clock=lambda: NOW)
    ledger.plans["cloud"] = package
    # 1,100 tokens x CNY 7 / 1M x 0.125 USD/CNY
    assert ledger.record(chat(NOW)).cost == Decimal("0.0009625")


def test_this_month_under_each_plan() -> None:
    ledger = _ledger(None)  # metered now
    for n, device in enumerate(("kitchen", "hall", "kitchen", None)):
        ledger.record(chat(NOW + n, endpoint=device, input_tokens=100_000, output_tokens=0))
    offers = {
        PlanKind.PER_DEVICE: Plan(PlanKind.PER_DEVICE, "USD", fee=Decimal("0.01")),
        PlanKind.PACKAGE: Plan(
            PlanKind.PACKAGE, "USD", fee=Decimal("0.05"), included=Decimal(300_000)
        ),
    }
    month = _month(ledger)
    devices = ledger.devices.count("2026-03", "cloud")
    assert devices == 3  # kitchen, hall and the calls from no device
    costs = month_costs(offers, month, devices, book().to_ledger)
    assert costs == {
        PlanKind.METERED: Decimal("0.16"),  # 400,000 tokens x 0.40 / 1M
        PlanKind.PER_DEVICE: Decimal("0.03"),
        PlanKind.PACKAGE: Decimal("0.09"),  # 0.05 + the metered quarter beyond 300,000
    }


async def test_devices_survive_a_restart() -> None:
    store = MemoryStore()
    ledger = Ledger(store, book(), clock=lambda: NOW, tz="Europe/Berlin")
    ledger.record(chat(NOW, endpoint="kitchen"))
    ledger.record(chat(NOW, endpoint="hall", outcome="failed", input_tokens=0, output_tokens=0))
    await ledger.flush()
    again = await reopen(store, clock=lambda: NOW, tz="Europe/Berlin")
    assert again.devices.count("2026-03", "cloud") == 1  # a failed call used no licence
    assert again.devices.count("2026-04", "cloud") == 0


def test_options_offer_plans_and_name_what_is_missing() -> None:
    options = {
        "plan": "package",
        "licence_fee": 2,
        "package_fee": "4.5",
        "package_included": 1_000_000,
        "package_unit": "tokens",
        "package_overage": "",
    }
    offers = plans_from_options(options, "EUR")
    assert offers[PlanKind.PER_DEVICE] == Plan(PlanKind.PER_DEVICE, "EUR", fee=Decimal(2))
    assert offers[PlanKind.PACKAGE].overage is None
    assert plan_in_use(options, offers) == offers[PlanKind.PACKAGE]
    assert plan_in_use({}, offers) is None  # metered
    with pytest.raises(PlanError) as caught:
        plans_from_options({"package_fee": 4}, "EUR")
    assert (caught.value.key, caught.value.translation_key) == (
        "package_included",
        "package_included_required",
    )
    with pytest.raises(PlanError) as caught:
        plans_from_options({"plan": "per_device"}, "EUR")
    assert caught.value.translation_key == "per_device_fee_required"


def test_a_package_of_minutes_covers_the_speech_heard_until_its_quota() -> None:
    package = Plan(
        PlanKind.PACKAGE,
        "USD",
        fee=Decimal(2),
        included=Decimal(1),  # one minute a month
        unit=PlanUnit.MINUTES,
        overage=Decimal("0.01"),  # per minute beyond
    )
    ledger = _ledger(package)
    assert covers(package, _month(ledger))  # budgets rank the connection as free
    assert ledger.record(stt(NOW, 45)).cost == 0
    assert covers(package, _month(ledger))
    # 15 of these 45 seconds are inside the minute, 30 beyond: half a minute at 0.01.
    assert ledger.record(stt(NOW + 1, 45)).cost == Decimal("0.005")
    assert not covers(package, _month(ledger))  # used up: the next call costs
    # A chat call hears no audio: the price list prices it.
    assert ledger.record(chat(NOW + 2)).cost == Decimal("0.00056")
    assert month_costs({PlanKind.PACKAGE: package}, _month(ledger), 1, book().to_ledger) == {
        PlanKind.METERED: Decimal("0.00056") + Decimal("0.009"),  # 1.5 minutes x 0.006
        PlanKind.PACKAGE: Decimal("2.005"),  # the fee, and the half minute beyond at 0.01
    }
    assert not covers(None, _month(ledger))  # metered: never free
    assert covers(Plan(PlanKind.PER_DEVICE, "USD", fee=Decimal(1)), _month(ledger))


def test_a_plan_whose_fee_has_no_exchange_rate_has_no_cost_this_month() -> None:
    ledger = _ledger(None)
    ledger.record(chat(NOW))
    offers = {
        PlanKind.PER_DEVICE: Plan(PlanKind.PER_DEVICE, "CNY", fee=Decimal(20)),
        PlanKind.PACKAGE: Plan(
            PlanKind.PACKAGE, "USD", fee=Decimal(1), included=Decimal(1), overage=Decimal(1)
        ),
    }
    rates_unknown = month_costs(offers, _month(ledger), 1, book().to_ledger)
    assert rates_unknown == {
        PlanKind.METERED: Decimal("0.00056"),
        PlanKind.PER_DEVICE: None,  # no CNY rate: unknown, not free
        PlanKind.PACKAGE: Decimal(1) + Decimal(1099) / Decimal(1_000_000),
    }


def test_a_package_named_without_its_fee_is_refused() -> None:
    with pytest.raises(PlanError) as caught:
        plans_from_options({"package_included": 1000, "package_unit": "characters"}, "EUR")
    assert (caught.value.key, caught.value.translation_key) == (
        "package_fee",
        "package_fee_required",
    )


def test_a_connection_on_the_metered_plan_pays_the_price_list() -> None:
    ledger = _ledger(Plan(PlanKind.METERED, "USD"))
    assert ledger.record(chat(NOW)).cost == Decimal("0.00056")
    assert _month(ledger).discount == 0
