"""Daily and monthly budgets per endpoint and for the whole house, and what they make us do.

Pure domain logic: no Home Assistant imports. Amounts are in the ledger currency (costs in a
currency without a conversion rate are not counted; see `ledger.PriceBook`). Budgets follow the
ledger's local day and month, so they reset at local midnight and on the first of the month
without any timer: `evaluate` reads the rollup of the current period, which starts empty.

Levels: `normal`, `warning` from `warning_at` of a limit (default 80%), `exceeded` from 100%.
An endpoint's level is the worst of its own budgets and the house's. A limit of 0 is exceeded at
once: it means "no cloud spend" for that endpoint or house.

`Degradation` says what a level does, for the voice tiers and the router to read:

- normal: nothing;
- warning: the voice tier steps down one step and the cheapest model of a chain goes first;
- exceeded: as warning, and only local providers and voices are used, with an earcon first so
  the user hears at once that something happened. Never silent: a reply is always spoken by a
  local voice (or, with none configured, played as an earcon).

`Budgets.lift` suspends the budgets of an endpoint or the house until the end of the local day
(or a given time), e.g. "let the kitchen speak properly tonight".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final

from .ledger import ZERO, Ledger, Period, Scope, to_decimal
from .profiles import Link

#: The `target` of `Budgets.lift` and the key of `BudgetConfig.house`: the whole house.
HOUSE: Final = None
DEFAULT_WARNING_AT: Final = Decimal("0.8")
_HOUSE_KEY: Final = "house"  # how the house is written in `Budgets.lifts_to_dict`


class Level(StrEnum):
    """How close spending is to a budget; compares by severity, not alphabetically."""

    NORMAL = "normal"
    WARNING = "warning"
    EXCEEDED = "exceeded"

    @property
    def severity(self) -> int:
        """0 for normal, 1 for warning, 2 for exceeded."""
        return _SEVERITY[self]


_SEVERITY: Final = {Level.NORMAL: 0, Level.WARNING: 1, Level.EXCEEDED: 2}


class Target(StrEnum):
    """Whose budget: one endpoint's or the whole house's."""

    ENDPOINT = "endpoint"
    HOUSE = "house"


@dataclass(frozen=True, slots=True)
class Degradation:
    """What the tiers and the router do under a budget level (pure data)."""

    #: Voice tiers to step down (`speech.tiers.choose_tier(steps_down=...)`).
    tier_steps_down: int = 0
    #: Try the cheapest route of a chain first.
    prefer_cheapest: bool = False
    #: Use local providers and voices only (`choose_tier(local_only=True)`).
    local_only: bool = False
    #: Play an earcon before the (local) spoken reply.
    earcon_first: bool = False


#: The behaviour of each level; each level keeps everything the one below it does.
DEGRADATION: Final[Mapping[Level, Degradation]] = {
    Level.NORMAL: Degradation(),
    Level.WARNING: Degradation(tier_steps_down=1, prefer_cheapest=True),
    Level.EXCEEDED: Degradation(
        tier_steps_down=1, prefer_cheapest=True, local_only=True, earcon_first=True
    ),
}


def degradation_for(level: Level) -> Degradation:
    """Return what `level` makes the tiers and the router do."""
    return DEGRADATION[level]


@dataclass(frozen=True, slots=True)
class Budget:
    """A daily and/or monthly limit (None: no limit for that period)."""

    daily: Decimal | None = None
    monthly: Decimal | None = None

    def limit(self, period: Period) -> Decimal | None:
        """Return the limit for `period`."""
        return self.daily if period is Period.DAY else self.monthly

    def to_dict(self) -> dict[str, str]:
        """Return the JSON form: the limits that are set, as strings."""
        return {
            name: str(value)
            for name, value in (("daily", self.daily), ("monthly", self.monthly))
            if value is not None
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Budget:
        """Read `{"daily": "0.50", "monthly": 10}`; either may be missing or None."""
        unknown = set(data) - {"daily", "monthly"}
        if unknown:
            raise ValueError(f"unknown budget keys: {', '.join(sorted(unknown))}")
        daily, monthly = data.get("daily"), data.get("monthly")
        return cls(
            None if daily is None else to_decimal(daily, what="daily"),
            None if monthly is None else to_decimal(monthly, what="monthly"),
        )


@dataclass(frozen=True, slots=True)
class BudgetConfig:
    """The house's budget, each endpoint's (by device id) and the warning threshold."""

    house: Budget = field(default_factory=Budget)
    endpoints: Mapping[str, Budget] = field(default_factory=dict)
    warning_at: Decimal = DEFAULT_WARNING_AT

    def __post_init__(self) -> None:
        if not 0 < self.warning_at <= 1:
            raise ValueError(f"warning_at must be in (0, 1], got {self.warning_at}")

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form `from_dict` reads."""
        return {
            "house": self.house.to_dict(),
            "endpoints": {key: budget.to_dict() for key, budget in self.endpoints.items()},
            "warning_at": str(self.warning_at),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> BudgetConfig:
        """Read `to_dict` output; missing parts mean no budget and the default threshold."""
        data = data or {}
        return cls(
            house=Budget.from_dict(data.get("house") or {}),
            endpoints={
                str(key): Budget.from_dict(value)
                for key, value in (data.get("endpoints") or {}).items()
            },
            warning_at=to_decimal(data.get("warning_at", DEFAULT_WARNING_AT), what="warning_at"),
        )


@dataclass(frozen=True, slots=True)
class Check:
    """One budget compared with what was spent in its current period."""

    target: Target
    period: Period
    spent: Decimal
    limit: Decimal
    level: Level  # NORMAL while lifted, whatever was spent
    resets_at: float  # epoch time the period ends
    lifted_until: float | None = None

    @property
    def ratio(self) -> Decimal | None:
        """Return spent / limit (None for a limit of 0)."""
        return self.spent / self.limit if self.limit else None


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    """The budget verdict for one endpoint (or the house alone, `endpoint` None)."""

    endpoint: str | None
    level: Level
    #: The budget that set `level` (the most used one of that level); None when normal.
    tripped: Check | None
    #: Every budget that applies, endpoint's first, daily before monthly.
    checks: tuple[Check, ...]
    currency: str

    @property
    def degradation(self) -> Degradation:
        """Return what this status makes the tiers and the router do."""
        return DEGRADATION[self.level]


class Budgets:
    """Budget configuration and lifts; `evaluate` reads spending from a `Ledger`."""

    def __init__(self, config: BudgetConfig | None = None) -> None:
        self.config = config or BudgetConfig()
        self._lifts: dict[str | None, float] = {}

    # --- lifts ----------------------------------------------------------------------------

    def lift(
        self, ledger: Ledger, target: str | None, *, now: float, until: float | None = None
    ) -> float:
        """Suspend the budgets of an endpoint (or the house: `HOUSE`) until `until`.

        By default until the end of the local day containing `now`. Returns the end time.
        """
        end = ledger.day_bounds(now)[1] if until is None else until
        self._lifts[target] = end
        return end

    def unlift(self, target: str | None) -> None:
        """End a lift early."""
        self._lifts.pop(target, None)

    def lifted_until(self, target: str | None, now: float) -> float | None:
        """Return when the lift of `target` ends, or None when it is not lifted at `now`."""
        until = self._lifts.get(target)
        if until is None:
            return None
        if now >= until:
            del self._lifts[target]
            return None
        return until

    def lifts_to_dict(self) -> dict[str, float]:
        """Return the lifts as JSON (the house as "house"), to survive a restart."""
        return {_HOUSE_KEY if t is None else t: until for t, until in self._lifts.items()}

    def restore_lifts(self, data: Mapping[str, float], *, now: float) -> None:
        """Read `lifts_to_dict` output, dropping lifts that have ended."""
        for key, until in data.items():
            if float(until) > now:
                self._lifts[None if key == _HOUSE_KEY else key] = float(until)

    # --- evaluation -----------------------------------------------------------------------

    def evaluate(
        self, ledger: Ledger, now: float | None = None, endpoint: str | None = None
    ) -> BudgetStatus:
        """Return the budget status of `endpoint` (None: the house budgets only) at `now`."""
        when = ledger.now() if now is None else now
        checks: list[Check] = []
        if endpoint is not None and (own := self.config.endpoints.get(endpoint)) is not None:
            lifted = self.lifted_until(endpoint, when)
            checks += self._checks(ledger, when, Target.ENDPOINT, own, endpoint, lifted)
        lifted = self.lifted_until(HOUSE, when)
        checks += self._checks(ledger, when, Target.HOUSE, self.config.house, None, lifted)
        level = max((c.level for c in checks), key=lambda lv: lv.severity, default=Level.NORMAL)
        tripped = None
        if level is not Level.NORMAL:
            # The most used budget of that level; a limit of 0 counts as infinitely used.
            tripped = max(
                (c for c in checks if c.level is level),
                key=lambda c: Decimal("Infinity") if c.ratio is None else c.ratio,
            )
        return BudgetStatus(endpoint, level, tripped, tuple(checks), ledger.currency)

    def evaluate_all(
        self, ledger: Ledger, now: float | None = None, endpoints: Iterable[str] = ()
    ) -> dict[str | None, BudgetStatus]:
        """Return the status of the house (key None) and of every configured or given endpoint."""
        keys: list[str | None] = [HOUSE, *dict.fromkeys([*self.config.endpoints, *endpoints])]
        return {key: self.evaluate(ledger, now, key) for key in keys}

    def _checks(
        self,
        ledger: Ledger,
        now: float,
        target: Target,
        budget: Budget,
        endpoint: str | None,
        lifted: float | None,
    ) -> list[Check]:
        checks = []
        scope, key = (
            (Scope.ENDPOINT, endpoint) if target is Target.ENDPOINT else (Scope.TOTAL, None)
        )
        for period in Period:
            limit = budget.limit(period)
            if limit is None:
                continue
            spent = ledger.totals(period, now, scope=scope, key=key).cost
            if lifted is not None:
                level = Level.NORMAL
            elif spent >= limit:
                level = Level.EXCEEDED
            elif spent >= limit * self.config.warning_at:
                level = Level.WARNING
            else:
                level = Level.NORMAL
            bounds = ledger.day_bounds(now) if period is Period.DAY else ledger.month_bounds(now)
            checks.append(Check(target, period, spent, limit, level, bounds[1], lifted))
        return checks


def order_for_budget(
    links: Sequence[Link],
    degradation: Degradation,
    *,
    is_local: Callable[[Link], bool],
    rate: Callable[[Link], Decimal | None],
) -> tuple[Link, ...]:
    """Reorder (and at the limit, filter) a chain as the budget asks.

    Warning: the cheapest link goes first (by `rate`, the price of one typical unit of the
    call; local links cost nothing; links of unknown price go after priced ones). Exceeded: only
    local links remain. Equal rates keep the user's order.
    """
    if degradation.local_only:
        links = [link for link in links if is_local(link)]
    if not degradation.prefer_cheapest:
        return tuple(links)

    def cost(link: Link) -> Decimal:
        if is_local(link):
            return ZERO
        price = rate(link)
        return Decimal("Infinity") if price is None else price

    return tuple(sorted(links, key=cost))
