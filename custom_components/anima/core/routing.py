"""Ordered fallback over provider routes, with time-outs, cooldowns and a circuit breaker.

Pure domain logic: no Home Assistant imports. A `Chain` lists `Route`s best first; the `Router`
tries them in order and keeps one `ProviderHealth` per provider id, shared by every chain that
uses the provider. The integration wires `on_auth_failure` to re-authentication and `on_attempt`
to the cost ledger, and shows `Router.snapshot()` in diagnostic entities.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
import logging
import time
from typing import Any

from ..providers.base import (
    ChatDelta,
    ProviderAuthError,
    ProviderContextError,
    ProviderError,
    ProviderOutputError,
    ProviderRateLimitError,
    ProviderRequestError,
    ProviderTimeoutError,
    Usage,
)
from .health import Attempt, HealthState, Outcome, ProviderHealth

_LOGGER = logging.getLogger(__name__)

#: `finish_reason` of the last delta of a stream that broke after it had spoken.
FINISH_INTERRUPTED = "interrupted"
DEFAULT_APOLOGY = " Sorry, I lost my connection."
#: The apology when the model's own output broke the stream after it had spoken.
OUTPUT_APOLOGY = " Sorry, I got muddled there."


@dataclass(frozen=True, slots=True)
class Route[P]:
    """One provider with the model (and, for speech, voice) to use on it."""

    provider_id: str
    provider: P
    model: str | None = None
    voice: str | None = None
    #: The wait for a stream's first delta on this route, when not the chain's (a local model
    #: reading a cold prompt needs longer than a cloud); it lengthens the total limit as well.
    first_token_timeout: float | None = None


@dataclass(frozen=True, slots=True)
class Chain[P]:
    """Routes best first, with the time-outs (seconds, None for none) of each attempt.

    `first_token_timeout` bounds the wait for the first delta of a stream; `total_timeout`
    bounds a whole attempt, stream or one-shot call.
    """

    routes: tuple[Route[P], ...]
    first_token_timeout: float | None = 15.0
    total_timeout: float | None = 60.0


class AllProvidersFailedError(ProviderError):
    """Every route of a chain failed or was skipped."""

    translation_key = "all_providers_failed"

    def __init__(
        self,
        attempts: Sequence[tuple[str, ProviderError]],
        skipped: Sequence[tuple[str, HealthState]] = (),
    ) -> None:
        self.attempts = tuple(attempts)
        self.skipped = tuple(skipped)
        parts = [f"{pid}: {type(err).__name__}: {err}" for pid, err in self.attempts]
        parts += [f"{pid}: skipped ({state})" for pid, state in self.skipped]
        super().__init__("All providers failed: " + ("; ".join(parts) or "no routes"))

    @property
    def model_caused(self) -> ProviderError | None:
        """The model's own failure when that is all there was (its output, too long a request).

        Such a turn may succeed asked again differently (without tools, with less history);
        it says nothing of the providers' health.
        """
        errors = [err for _, err in self.attempts]
        if errors and not self.skipped and all(_model_caused(err) for err in errors):
            return errors[0]
        return None


def _model_caused(error: ProviderError) -> bool:
    return isinstance(error, (ProviderOutputError, ProviderContextError))


class Router:
    """Runs calls over chains of routes; one instance per integration."""

    def __init__(
        self,
        *,
        failure_threshold: int = 3,
        open_seconds: float = 30.0,
        default_cooldown: float = 30.0,
        apology: str = DEFAULT_APOLOGY,
        clock: Callable[[], float] = time.monotonic,
        on_auth_failure: Callable[[str], None] | None = None,
        on_attempt: Callable[[Attempt], None] | None = None,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.open_seconds = open_seconds
        self.default_cooldown = default_cooldown
        self.apology = apology
        self._clock = clock
        self._on_auth_failure = on_auth_failure
        self._on_attempt = on_attempt
        self._health: dict[str, ProviderHealth] = {}

    # --- health ---------------------------------------------------------------------------

    def health(self, provider_id: str) -> ProviderHealth:
        """Return the live health record of a provider (created on first use)."""
        health = self._health.get(provider_id)
        if health is None:
            health = self._health[provider_id] = ProviderHealth(provider_id)
        return health

    def state(self, provider_id: str) -> HealthState:
        """Return the current state of a provider."""
        health = self._health.get(provider_id)
        return HealthState.CLOSED if health is None else health.state(self._clock())

    def reset(self, provider_id: str) -> None:
        """Forget a provider's failures, e.g. after re-authentication succeeded."""
        self._health[provider_id] = ProviderHealth(provider_id)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Plain data per provider id, for diagnostics and sensors."""
        now = self._clock()
        result: dict[str, dict[str, Any]] = {}
        for pid, h in self._health.items():
            state = h.state(now)
            retry_in = None
            if state is HealthState.OPEN and h.open_until is not None:
                retry_in = h.open_until - now
            elif state is HealthState.COOLDOWN:
                retry_in = h.cooldown_until - now
            result[pid] = {
                "state": state.value,
                "consecutive_failures": h.consecutive_failures,
                "last_error": h.last_error,
                "last_success": h.last_success,
                "retry_in": retry_in,
            }
        return result

    # --- calls ----------------------------------------------------------------------------

    async def call[P, T](
        self,
        chain: Chain[P],
        run: Callable[[Route[P]], Awaitable[T]],
        *,
        report: Callable[[Attempt], None] | None = None,
    ) -> T:
        """Return the result of `run` on the first route that succeeds (one-shot calls).

        `report` hears each attempt of this call (after `on_attempt`, which hears them all).
        """
        failed: list[tuple[str, ProviderError]] = []
        skipped: list[tuple[str, HealthState]] = []
        for route, settle in self._attempts(chain, skipped, report):
            try:
                async with asyncio.timeout(chain.total_timeout):
                    result = await run(route)
            except (ProviderError, TimeoutError) as err:
                error = _provider_error(err, f"no answer within {chain.total_timeout} s")
                settle(error)
                failed.append((route.provider_id, error))
                continue
            except BaseException:
                settle(None, cancelled=True)
                raise
            settle(None)
            return result
        raise AllProvidersFailedError(failed, skipped)

    async def stream[P](
        self,
        chain: Chain[P],
        open_stream: Callable[[Route[P]], AsyncIterator[ChatDelta]],
        *,
        apology: str | None = None,
        report: Callable[[Attempt], None] | None = None,
    ) -> AsyncIterator[ChatDelta]:
        """Yield the chat deltas of the first route that streams.

        A route that fails before any text (or tool call) was yielded is replaced by the next
        one unseen. Once text was yielded the stream cannot switch: it ends with one apology
        delta whose finish_reason is FINISH_INTERRUPTED, never with an exception. `report`
        hears each attempt of this stream.
        """
        failed: list[tuple[str, ProviderError]] = []
        skipped: list[tuple[str, HealthState]] = []
        for route, settle in self._attempts(chain, skipped, report):
            deadline, total_at = _deadlines(chain, route)
            iterator: AsyncIterator[ChatDelta] | None = None
            received = spoken = False
            held: list[ChatDelta] = []  # deltas without text, held back until the answer speaks
            usage: Usage | None = None
            try:
                iterator = open_stream(route)
                while True:
                    try:
                        async with asyncio.timeout_at(deadline):
                            delta = await anext(iterator)
                    except StopAsyncIteration:
                        break
                    if not received:
                        received, deadline = True, total_at
                    if delta.usage is not None:
                        usage = delta.usage
                    if not spoken:
                        if not (delta.text or delta.tool_calls):
                            held.append(delta)
                            continue
                        spoken = True
                        while held:
                            yield held.pop(0)
                    yield delta
            except (ProviderError, TimeoutError) as err:
                error = _provider_error(
                    err, "stream exceeded the total time-out" if received else "no first token"
                )
                await _close(iterator)
                settle(error, usage, started=received)
                if not spoken:
                    failed.append((route.provider_id, error))
                    continue
            except BaseException:
                await _close(iterator)
                settle(None, cancelled=True)
                raise
            else:
                settle(None, usage)
                while held:
                    yield held.pop(0)
                return
            if apology is None:
                apology = OUTPUT_APOLOGY if isinstance(error, ProviderOutputError) else self.apology
            yield ChatDelta(text=apology, finish_reason=FINISH_INTERRUPTED)
            return
        raise AllProvidersFailedError(failed, skipped)

    # --- bookkeeping ----------------------------------------------------------------------

    def _admit(
        self, provider_id: str, skipped: list[tuple[str, HealthState]]
    ) -> ProviderHealth | None:
        """Return the provider's health if it may be called now, else note it as skipped."""
        health = self.health(provider_id)
        if not health.needs_reauth and health.open_until is None and not health.cooldown_until:
            return health  # the common case, without reading the clock
        state = health.state(self._clock())
        if state is HealthState.CLOSED:
            return health
        if state is HealthState.HALF_OPEN and not health.probing:
            health.probing = True  # the one probe call
            return health
        skipped.append((provider_id, state))
        return None

    def _attempts[P](
        self,
        chain: Chain[P],
        skipped: list[tuple[str, HealthState]],
        report: Callable[[Attempt], None] | None,
    ) -> Iterator[tuple[Route[P], Callable[..., None]]]:
        """Yield each route of `chain` that may be called now, with how to settle its attempt.

        The settle callable takes the error (None: it answered), the usage, and `cancelled`.
        """
        for route in chain.routes:
            health = self._admit(route.provider_id, skipped)
            if health is not None:
                probe, began = health.open_until is not None, self._clock()
                yield route, partial(self._settle, route, health, probe, began, report=report)

    def _settle(
        self,
        route: Route[Any],
        health: ProviderHealth,
        probe: bool,
        began: float,
        error: ProviderError | None,
        usage: Usage | None = None,
        *,
        cancelled: bool = False,
        started: bool = False,
        report: Callable[[Attempt], None] | None = None,
    ) -> None:
        """Update the provider's health after an attempt and report the attempt."""
        now = self._clock()
        pid = route.provider_id
        if probe:
            health.probing = False
        if cancelled:
            outcome = Outcome.CANCELLED
        elif error is None:
            outcome = Outcome.OK
            health.consecutive_failures = 0
            health.last_success = now
            health.open_until = None
            if health.cooldown_until and now >= health.cooldown_until:
                health.cooldown_until = 0.0  # back on the fast path of _admit
        else:
            health.last_error = type(error).__name__
            _LOGGER.debug("Provider %s failed: %s: %s", pid, health.last_error, error)
            if isinstance(error, ProviderAuthError):
                outcome = Outcome.AUTH_FAILED
                health.needs_reauth = True
            elif isinstance(error, ProviderRateLimitError):
                outcome = Outcome.RATE_LIMITED
                wait = self.default_cooldown if error.retry_after is None else error.retry_after
                health.cooldown_until = now + wait
            elif isinstance(error, ProviderRequestError):
                outcome = Outcome.REJECTED
            elif isinstance(error, ProviderOutputError):
                outcome = Outcome.OUTPUT_FAILED
            else:
                outcome = Outcome.FAILED
                health.consecutive_failures += 1
                # A failed probe re-opens too: the count stays at the threshold until a success.
                if health.consecutive_failures >= self.failure_threshold:
                    health.open_until = now + self.open_seconds
        error_name = None if error is None else type(error).__name__
        attempt = Attempt(pid, route.model, outcome, now - began, error_name, usage, started)
        for listener in (self._on_attempt, report):
            if listener is not None:
                listener(attempt)
        if outcome is Outcome.AUTH_FAILED and self._on_auth_failure is not None:
            self._on_auth_failure(pid)


def _provider_error(err: ProviderError | TimeoutError, message: str) -> ProviderError:
    """Return provider errors as they are and asyncio time-outs as ProviderTimeoutError."""
    return err if isinstance(err, ProviderError) else ProviderTimeoutError(message)


def _deadlines(chain: Chain[Any], route: Route[Any]) -> tuple[float | None, float | None]:
    """Return the loop times by which the first delta and the whole attempt must arrive.

    A route's own first-token limit replaces the chain's, and the patience it adds before the
    first token is added to the whole attempt's limit too.
    """
    now = asyncio.get_running_loop().time()
    first_token, extra = chain.first_token_timeout, 0.0
    if route.first_token_timeout is not None:
        extra = max(0.0, route.first_token_timeout - (first_token or 0.0))
        first_token = route.first_token_timeout
    total_at = None if chain.total_timeout is None else now + chain.total_timeout + extra
    if first_token is None:
        return total_at, total_at
    first_at = now + first_token
    return (first_at if total_at is None else min(first_at, total_at)), total_at


async def _close(iterator: AsyncIterator[ChatDelta] | None) -> None:
    """Close a provider stream we stop reading (async generators hold connections)."""
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        await aclose()
