"""Billing plans: what a connection's calls cost beyond its price list, as vendors sell them.

Pure domain logic: no Home Assistant imports. Besides per-token, per-character and per-minute
prices (`metered`, the price tables), a connection may be on

- a per-device licence (`per_device`): a fee per device per month and nothing per call;
- a prepaid package (`package`): a fee per month that includes a quantity of tokens, characters,
  minutes or calls; beyond it a price per unit (or the connection's metered prices).

The ledger books each call at its marginal cost under the plan in use (0 under a licence or
inside a package), so budgets see what one more call adds to the bill. The fees are fixed costs
of the month: `month_costs` adds them when it compares the plans a connection offers on this
month's usage ("this month under each plan").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final

from .prices import PriceBook, PriceError, to_decimal
from .records import COST_QUANTUM, OUTCOME_CACHE_HIT, ZERO, Kind, UsageRecord
from .rollups import Totals

# Keys of a connection's options (its own prices' currency and its plans).
PRICE_CURRENCY: Final = "price_currency"
PLAN: Final = "plan"
LICENCE_FEE: Final = "licence_fee"
PACKAGE_FEE: Final = "package_fee"
PACKAGE_INCLUDED: Final = "package_included"
PACKAGE_UNIT: Final = "package_unit"
PACKAGE_OVERAGE: Final = "package_overage"


class PlanKind(StrEnum):
    """How a connection is billed."""

    METERED = "metered"
    PER_DEVICE = "per_device"
    PACKAGE = "package"


class PlanUnit(StrEnum):
    """What a package includes; its overage is priced per `UNIT_SCALE` of it."""

    TOKENS = "tokens"  # input and output tokens
    CHARACTERS = "characters"  # characters sent to a voice
    MINUTES = "minutes"  # audio heard or spoken
    CALLS = "calls"  # calls answered


#: How many units an overage price is for: per 1M tokens or characters, per minute, per call.
UNIT_SCALE: Final[Mapping[PlanUnit, Decimal]] = {
    PlanUnit.TOKENS: Decimal(1_000_000),
    PlanUnit.CHARACTERS: Decimal(1_000_000),
    PlanUnit.MINUTES: Decimal(1),
    PlanUnit.CALLS: Decimal(1),
}


class PlanError(PriceError):
    """A plan misses what it needs; `key` names the option."""

    def __init__(self, key: str, message: str, translation_key: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.translation_key = translation_key


@dataclass(frozen=True, slots=True)
class Plan:
    """One way a connection can be billed; amounts in `currency`."""

    kind: PlanKind
    currency: str
    #: Per device per month (`per_device`), per month (`package`).
    fee: Decimal = ZERO
    included: Decimal = ZERO
    unit: PlanUnit = PlanUnit.TOKENS
    #: Per `UNIT_SCALE` units beyond the package; None: the metered price of those calls.
    overage: Decimal | None = None


def quantity(record: UsageRecord, unit: PlanUnit) -> Decimal:
    """Return how much of `unit` one call used (a cache hit uses nothing)."""
    if not record.succeeded or record.outcome == OUTCOME_CACHE_HIT:
        return ZERO
    match unit:
        case PlanUnit.TOKENS:
            return Decimal(record.input_tokens + record.output_tokens)
        case PlanUnit.CHARACTERS:
            return Decimal(record.characters if record.kind is Kind.TTS else 0)
        case PlanUnit.MINUTES:
            return Decimal(str(record.audio_seconds)) / 60
        case PlanUnit.CALLS:
            return Decimal(1)


def used(totals: Totals, unit: PlanUnit) -> Decimal:
    """Return how much of `unit` a period's totals used."""
    match unit:
        case PlanUnit.TOKENS:
            return Decimal(totals.input_tokens + totals.output_tokens)
        case PlanUnit.CHARACTERS:
            return Decimal(totals.tts_characters)
        case PlanUnit.MINUTES:
            return Decimal(str(totals.audio_seconds)) / 60
        case PlanUnit.CALLS:
            return Decimal(totals.records - totals.failed - totals.cache_hits)


#: Converts an amount of a currency into the ledger's unit (None: no rate).
type ToLedger = Callable[[Decimal, str], Decimal | None]


def marginal_cost(
    plan: Plan | None,
    record: UsageRecord,
    metered: Decimal,
    month: Totals,
    to_ledger: ToLedger,
) -> Decimal:
    """Return what one call adds to the bill under `plan`, given the month's usage before it.

    `metered` is its price-list cost (ledger unit). A licence covers every call; a package
    covers its included quantity, then charges its overage (or the metered price) for the part
    of the call beyond it. Calls that use none of the package's unit are metered.
    """
    if plan is None or plan.kind is PlanKind.METERED:
        return metered
    if plan.kind is PlanKind.PER_DEVICE:
        return ZERO
    amount = quantity(record, plan.unit)
    if not amount:
        return metered
    beyond = min(max(used(month, plan.unit) + amount - plan.included, ZERO), amount)
    if not beyond:
        return ZERO
    if plan.overage is None:
        return metered * beyond / amount
    rate = to_ledger(plan.overage, plan.currency)
    return metered if rate is None else rate * beyond / UNIT_SCALE[plan.unit]


def covers(plan: Plan | None, month: Totals) -> bool:
    """Return whether the next call under `plan` is free (a licence, a package not used up)."""
    if plan is None or plan.kind is PlanKind.METERED:
        return False
    return plan.kind is PlanKind.PER_DEVICE or used(month, plan.unit) < plan.included


def booked(
    record: UsageRecord, plan: Plan | None, month: Totals, prices: PriceBook
) -> tuple[UsageRecord, Decimal, Decimal]:
    """Return a priced record as the ledger books it, what it saved and what its plan took off.

    A speech cache hit costs nothing and saved its price; under a plan a call costs its
    marginal cost (`marginal_cost`); costs in a currency without a rate stay as they are.
    """
    currency, to_ledger = prices.currency, prices.to_ledger
    if record.outcome == OUTCOME_CACHE_HIT:
        saved = record.cost if record.currency == currency else ZERO
        return replace(record, cost=ZERO, currency=currency), saved, ZERO
    if plan is None or record.currency != currency:
        return record, ZERO, ZERO
    charged = marginal_cost(plan, record, record.cost, month, to_ledger).quantize(COST_QUANTUM)
    return replace(record, cost=charged), ZERO, record.cost - charged


def month_costs(
    offers: Mapping[PlanKind, Plan],
    month: Totals,
    devices: int,
    to_ledger: ToLedger,
) -> dict[PlanKind, Decimal | None]:
    """Return what this month of one connection costs under each plan it offers.

    `month` is the connection's month so far (`cost` booked under the plan in use, `discount`
    what that plan took off the price list), `devices` the devices that used it. A plan whose
    fee has no rate is None. A package whose overage is metered is charged the metered cost of
    the share of the month beyond its quota.
    """
    metered = month.cost + month.discount
    costs: dict[PlanKind, Decimal | None] = {PlanKind.METERED: metered}
    for kind, plan in offers.items():
        fee = to_ledger(plan.fee, plan.currency)
        if kind is PlanKind.METERED or fee is None:
            costs.setdefault(kind, None)
            continue
        if kind is PlanKind.PER_DEVICE:
            costs[kind] = fee * devices
            continue
        total = used(month, plan.unit)
        beyond = max(total - plan.included, ZERO)
        extra: Decimal | None
        if not beyond:
            extra = ZERO
        elif plan.overage is None:
            extra = metered * beyond / total
        else:
            rate = to_ledger(plan.overage, plan.currency)
            extra = None if rate is None else rate * beyond / UNIT_SCALE[plan.unit]
        costs[kind] = None if extra is None else fee + extra
    return costs


def plans_from_options(options: Mapping[str, Any], currency: str) -> dict[PlanKind, Plan]:
    """Read the plans a connection's options offer; raises `PlanError` naming a missing field.

    The licence is offered when its fee is set, the package when its fee, quantity and unit are;
    the plan in use (`PLAN`) must be one of those (or metered).
    """

    def amount(key: str) -> Decimal | None:
        value = options.get(key)
        return None if value in (None, "") else to_decimal(value, what=key)

    offers: dict[PlanKind, Plan] = {}
    if (licence := amount(LICENCE_FEE)) is not None:
        offers[PlanKind.PER_DEVICE] = Plan(PlanKind.PER_DEVICE, currency, fee=licence)
    package_fee, included = amount(PACKAGE_FEE), amount(PACKAGE_INCLUDED)
    if package_fee is not None or included is not None:
        if package_fee is None:
            raise PlanError(PACKAGE_FEE, "a package needs its fee", "package_fee_required")
        if not included:
            raise PlanError(
                PACKAGE_INCLUDED, "a package needs what it includes", "package_included_required"
            )
        offers[PlanKind.PACKAGE] = Plan(
            PlanKind.PACKAGE,
            currency,
            fee=package_fee,
            included=included,
            unit=PlanUnit(options.get(PACKAGE_UNIT) or PlanUnit.TOKENS),
            overage=amount(PACKAGE_OVERAGE),
        )
    in_use = PlanKind(options.get(PLAN) or PlanKind.METERED)
    if in_use is not PlanKind.METERED and in_use not in offers:
        needed = LICENCE_FEE if in_use is PlanKind.PER_DEVICE else PACKAGE_FEE
        raise PlanError(needed, f"the {in_use} plan needs its fee", f"{in_use}_fee_required")
    return offers


def plan_in_use(options: Mapping[str, Any], offers: Mapping[PlanKind, Plan]) -> Plan | None:
    """Return the plan a connection is on (None: metered) among its `offers`."""
    kind = PlanKind(options.get(PLAN) or PlanKind.METERED)
    return offers.get(kind)
