"""Money right: every price currency converted at a rate, the shown currency, refused gaps."""

from __future__ import annotations

from decimal import Decimal

import pytest

from custom_components.anima.core.ledger import (
    Kind,
    Ledger,
    MemoryStore,
    MissingRateError,
    PriceError,
    ReferenceRates,
    UsageRecord,
    money_for,
    reference_rates,
)

from . import book, chat

NOW = 1_780_000_000.0
REFERENCE = ReferenceRates("USD", {"USD": Decimal(1), "EUR": Decimal("0.80"), "CNY": Decimal(8)})


def doubao(when: float) -> UsageRecord:
    """A call on a Doubao connection, priced in yuan: 1,000,000 in + 500,000 out = CNY 2."""
    return UsageRecord(
        when,
        "ark",
        "doubao",
        Kind.CHAT,
        model="doubao-chat",
        input_tokens=1_000_000,
        output_tokens=500_000,
    )


def test_yuan_prices_count_in_dollars_at_the_users_rate() -> None:
    # The house shows euros: 1 USD = 0.90 EUR, 1 CNY = 0.125 EUR, so 1 CNY = 0.1388... USD.
    money = money_for("EUR", {"usd_rate": "0.90", "cny_rate": "0.125"}, {"USD", "CNY"}, REFERENCE)
    ledger = Ledger(MemoryStore(), book(rates=money.ledger_rates()), clock=lambda: NOW)
    record = ledger.record(doubao(NOW))
    assert record.currency == "USD"
    assert record.cost == Decimal("0.2777777778")  # CNY 2 in dollars
    assert ledger.day(NOW).other_costs == {}  # nothing drops out of the totals
    assert money.shown_amount(ledger.day(NOW).cost).quantize(Decimal("0.0001")) == Decimal(
        "0.2500"
    )  # back to CNY 2 x 0.125 EUR


def test_reference_rates_fill_what_the_user_did_not_give() -> None:
    money = money_for("EUR", {}, {"USD", "CNY"}, REFERENCE)
    assert money.worth == {"USD": Decimal("0.8"), "CNY": Decimal("0.1")}
    assert money.per_ledger_unit == Decimal("0.8")
    # A rate the user gives wins over the reference.
    assert money_for("EUR", {"usd_rate": 0.92}, {"USD"}, REFERENCE).per_ledger_unit == Decimal(
        "0.92"
    )


def test_a_currency_without_any_rate_is_refused_by_name() -> None:
    with pytest.raises(MissingRateError) as caught:
        money_for("ISK", {}, {"USD"}, REFERENCE)
    assert (caught.value.currency, caught.value.shown) == ("USD", "ISK")
    assert caught.value.translation_key == "rate_required"
    # With the rate given it is accepted.
    assert money_for("ISK", {"usd_rate": "138"}, {"USD"}, REFERENCE).per_ledger_unit == 138
    with pytest.raises(PriceError, match="above 0"):
        money_for("ISK", {"usd_rate": "0"}, {"USD"}, REFERENCE)


def test_dollars_shown_as_dollars_need_no_rate() -> None:
    money = money_for("usd", {"usd_rate": "7"}, {"USD"}, ReferenceRates("USD", {}))
    assert money.shown == "USD"
    assert money.per_ledger_unit == 1  # a rate for the shown currency itself means nothing
    assert money.ledger_rates() == {}


def test_shipped_reference_rates_cover_the_price_currencies() -> None:
    rates = reference_rates()
    assert rates.base == "USD"
    for shown in ("EUR", "GBP", "CNY", "JPY"):
        for currency in book().currencies():
            assert rates.worth(currency, shown), (currency, shown)
    assert book().currencies() == {"USD", "CNY"}


def test_the_ledger_keeps_dollars_whatever_is_shown() -> None:
    euros = money_for("EUR", {"usd_rate": "0.5"}, {"USD"}, REFERENCE)
    ledger = Ledger(MemoryStore(), book(rates=euros.ledger_rates()), clock=lambda: NOW)
    ledger.record(chat(NOW, input_tokens=1_000_000, output_tokens=0))  # $0.40
    assert ledger.day(NOW).cost == Decimal("0.4")
    assert euros.shown_amount(ledger.day(NOW).cost) == Decimal("0.2")
