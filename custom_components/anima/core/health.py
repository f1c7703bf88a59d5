"""What the router knows of each provider: its health, and how each attempt on it ended.

Pure domain logic: no Home Assistant imports. See routing.py for how the router uses them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ..providers.base import Usage


class HealthState(StrEnum):
    """What the router currently does with a provider."""

    CLOSED = "closed"  # used normally
    OPEN = "open"  # breaker tripped: skipped until its cooldown passes
    HALF_OPEN = "half_open"  # one probe call may go through
    COOLDOWN = "cooldown"  # rate limited: skipped until Retry-After passes
    NEEDS_REAUTH = "needs_reauth"  # credentials rejected: skipped until `Router.reset`


class Outcome(StrEnum):
    """How one attempt ended."""

    OK = "ok"
    AUTH_FAILED = "auth_failed"
    RATE_LIMITED = "rate_limited"
    FAILED = "failed"  # 5xx, time-out, connection, malformed stream: counts for the breaker
    REJECTED = "rejected"  # the request itself was refused (4xx): does not count
    #: The model's own output failed the call (a tool call the server could not parse): the
    #: provider is fine, so it does not count for the breaker either.
    OUTPUT_FAILED = "output_failed"
    CANCELLED = "cancelled"  # the caller went away (or a non-provider error escaped)


@dataclass(frozen=True, slots=True)
class Attempt:
    """One provider call, as reported to `on_attempt`; latency in seconds."""

    provider_id: str
    model: str | None
    outcome: Outcome
    latency: float
    error: str | None = None  # error class name
    usage: Usage | None = None  # last usage a stream reported
    #: Whether the provider had begun answering (a stream's first delta came) before it failed.
    started: bool = False
    #: Whether `usage` is Anima's estimate (the call broke before the provider reported any).
    estimated: bool = False


@dataclass(slots=True)
class ProviderHealth:
    """Breaker and cooldown state of one provider; times are in the router's clock."""

    provider_id: str
    consecutive_failures: int = 0
    last_error: str | None = None
    last_success: float | None = None
    needs_reauth: bool = False
    cooldown_until: float = 0.0
    open_until: float | None = None  # set while the breaker is tripped (open or half-open)
    probing: bool = False

    def state(self, now: float) -> HealthState:
        """Return the state at clock time `now`."""
        if self.needs_reauth:
            return HealthState.NEEDS_REAUTH
        if self.open_until is not None and now < self.open_until:
            return HealthState.OPEN
        if now < self.cooldown_until:
            return HealthState.COOLDOWN
        return HealthState.CLOSED if self.open_until is None else HealthState.HALF_OPEN
