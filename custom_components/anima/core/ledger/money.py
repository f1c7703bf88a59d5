"""Money: the currency costs are shown in, and what each price currency is worth in it.

Pure domain logic: no Home Assistant imports. The ledger keeps every cost in one unit, US dollars
(`LEDGER_CURRENCY`, the currency of most price tables), so changing the shown currency never
rewrites history. A price in another currency (Doubao's yuan, a connection's own prices in euros)
is converted into dollars when its call is recorded, and dollars into the shown currency when a
sensor or budget reads them.

Rates come from the user (the hub's options: the value of one unit of a currency in the shown
one), else from the reference rates in prices.json (rounded mid-market rates: better than
dropping a cost, but set your own). A currency with no rate from either is refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
import json
from typing import Any, Final

from .prices import DEFAULT_CURRENCY, PRICES_FILE, PriceError, to_decimal

#: The unit the ledger keeps costs in.
LEDGER_CURRENCY: Final = DEFAULT_CURRENCY
#: Digits of a rate kept: plenty for money, and stable across a round trip through a float.
_RATE_QUANTUM: Final = Decimal("1e-12")


class MissingRateError(PriceError):
    """No rate is known between a price currency and the shown currency."""

    translation_key = "rate_required"

    def __init__(self, currency: str, shown: str) -> None:
        super().__init__(f"no rate for {currency} in {shown}")
        self.currency, self.shown = currency, shown


def rate_key(currency: str) -> str:
    """Return the hub option that holds the value of one unit of `currency` ("usd_rate")."""
    return f"{currency.lower()}_rate"


@dataclass(frozen=True, slots=True)
class ReferenceRates:
    """Units of each currency per unit of `base` (prices.json `exchange_rates`)."""

    base: str
    per_base: Mapping[str, Decimal]
    as_of: str | None = None

    def worth(self, currency: str, shown: str) -> Decimal | None:
        """Return the value of one `currency` in `shown`; None when either is not listed."""
        if currency == shown:
            return Decimal(1)
        have, want = self.per_base.get(currency), self.per_base.get(shown)
        if not have or want is None:
            return None
        return (want / have).quantize(_RATE_QUANTUM)


@cache
def reference_rates() -> ReferenceRates:
    """Return the reference rates of prices.json (read once: the first call blocks)."""
    data = json.loads(PRICES_FILE.read_text(encoding="utf-8"))["exchange_rates"]
    return ReferenceRates(
        str(data["base"]).upper(),
        {code.upper(): to_decimal(v, what=code) for code, v in data["per_base"].items()},
        data.get("as_of"),
    )


@dataclass(frozen=True, slots=True)
class Money:
    """The shown currency and the value in it of one unit of each currency prices use."""

    shown: str
    worth: Mapping[str, Decimal]

    @property
    def per_ledger_unit(self) -> Decimal:
        """The value of one ledger unit (a dollar) in the shown currency."""
        return self.worth[LEDGER_CURRENCY]

    def shown_amount(self, ledger_amount: Decimal) -> Decimal:
        """Return an amount of the ledger's unit in the shown currency."""
        return ledger_amount * self.per_ledger_unit

    def ledger_rates(self) -> dict[str, Decimal]:
        """Return the value of one unit of each currency in dollars (for the `PriceBook`)."""
        unit = self.per_ledger_unit
        return {
            code: (value / unit).quantize(_RATE_QUANTUM)
            for code, value in self.worth.items()
            if code != LEDGER_CURRENCY
        }


def money_for(
    shown: str,
    given: Mapping[str, Any],
    currencies: Iterable[str],
    reference: ReferenceRates | None = None,
    *,
    skip_missing: bool = False,
) -> Money:
    """Return the `Money` for showing costs in `shown`, with a rate for every price currency.

    `given` holds the user's rates by `rate_key` (empty values: none given); `currencies` are
    those the prices use. The ledger's unit always needs a rate. A rate neither given nor in
    `reference` raises `MissingRateError` naming the currency (with `skip_missing`, only for the
    ledger's unit: others are left out, and their costs stay apart); a given rate must be above
    0.
    """
    shown = shown.strip().upper()
    reference = reference if reference is not None else reference_rates()
    worth: dict[str, Decimal] = {}
    for code in sorted({*(c.upper() for c in currencies), LEDGER_CURRENCY}):
        value = given.get(rate_key(code))
        if code == shown:
            rate: Decimal | None = Decimal(1)
        elif value not in (None, ""):
            rate = to_decimal(value, what=rate_key(code))
            if not rate:
                raise PriceError(f"{rate_key(code)}: a rate must be above 0")
        else:
            rate = reference.worth(code, shown)
        if rate is not None:
            worth[code] = rate
        elif code == LEDGER_CURRENCY or not skip_missing:
            raise MissingRateError(code, shown)
    return Money(shown, worth)
