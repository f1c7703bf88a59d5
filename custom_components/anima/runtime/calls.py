"""The one way Anima calls a provider: budget -> chain -> meter -> router -> settle -> timing.

Every provider call goes through `ProviderCalls.begin`: agent turns, AI tasks, speech-to-text,
each sentence of text-to-speech, look and watch, describe and ask. Given the kind of call, the
profile's links and the asking endpoint, a `ProviderCall`

1. reads the budget of the endpoint and the house: at a warning the cheapest link goes first,
   once exceeded only local links remain (`core.budgets.order_for_budget`);
2. turns the links into a router chain of the connections loaded now (`NoProviderError` when
   none can do the job: callers handle it like any provider failure);
3. meters every attempt into the ledger with the call's kind, profile and endpoint;
4. runs it through the router (fallback, time-outs, cooldowns, breaker);
5. settles usage known only after the call (seconds heard, characters spoken);
6. times the stage (stt, llm, tts) for diagnostics.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any, Final, Self

from homeassistant.core import HomeAssistant
from homeassistant.helpers.dispatcher import async_dispatcher_send

from ..const import LOGGER, SIGNAL_TIMED
from ..core.budgets import Degradation
from ..core.health import Attempt, Outcome
from ..core.history import CHARACTERS_PER_TOKEN as ESTIMATED_CHARACTERS_PER_TOKEN
from ..core.ledger import Kind
from ..core.profiles import Link
from ..core.routing import Chain, Route, Router
from ..core.timing import Stage, Stopwatch, TimingLog
from ..providers.base import Capability, ChatDelta, Usage
from .budgeting import BudgetKeeper
from .connections import resolve_chain
from .metering import CallRecorder, Meter

#: The provider capability each kind of call needs.
CAPABILITY: Final = {
    Kind.CHAT: Capability.CHAT,
    Kind.VISION: Capability.CHAT,
    Kind.STT: Capability.STT,
    Kind.TTS: Capability.TTS,
}

#: Characters counted per token when a stream's length is bounded: generous (English averages
#: about four), so an answer the provider itself stops at its limit is never cut.
CHARACTERS_PER_TOKEN: Final = 6

#: Records a deferred call's usage once it is known (`CallRecorder.settle`).
type Settle = Callable[..., None]


@dataclass(frozen=True, slots=True)
class CallSpec:
    """What a provider call is: its kind, the links to try, for whom, and what to time."""

    kind: Kind
    links: tuple[Link, ...]
    #: The profile (subentry id) the ledger books the call to.
    profile: str | None = None
    #: The asking endpoint's device id: its budget applies, the ledger books the call to it.
    endpoint: str | None = None
    #: The stage to time (None: not timed), and the entity it is timed for.
    stage: Stage | None = None
    entity_id: str = ""


class ProviderCalls:
    """Begins provider calls; one per integration (in `AnimaData`)."""

    def __init__(
        self,
        hass: HomeAssistant,
        router: Router,
        meter: Meter,
        budgets: BudgetKeeper,
        timings: TimingLog,
    ) -> None:
        """Call through `router`, meter into `meter`, within `budgets`, timed into `timings`."""
        self.hass = hass
        self.router = router
        self.meter = meter
        self.budgets = budgets
        self.timings = timings

    def degradation(self, endpoint: str | None) -> Degradation:
        """Return what the budget of `endpoint` (and the house) asks for now."""
        return self.budgets.status(endpoint).degradation

    def begin(
        self,
        spec: CallSpec,
        *,
        stopwatch: Stopwatch | None = None,
        degradation: Degradation | None = None,
    ) -> ProviderCall:
        """Begin a call: its budget is read and its links ordered now.

        `stopwatch` times a stage that began before the call (an agent turn); `degradation`
        is the budget's verdict when the caller has read it already.
        """
        if degradation is None:
            degradation = self.degradation(spec.endpoint)
        links = self.budgets.within_budget(spec.links, degradation, spec.kind)
        return ProviderCall(self, spec, links, degradation, stopwatch or Stopwatch())


class ProviderCall:
    """One call of the pipeline (an agent turn, a transcription, one message's speech).

    Used as a context manager, it records its stage's timing when the block ends.
    """

    def __init__(
        self,
        calls: ProviderCalls,
        spec: CallSpec,
        links: tuple[Link, ...],
        degradation: Degradation,
        stopwatch: Stopwatch,
    ) -> None:
        """Use `links` (already ordered by the budget) for `spec`."""
        self._calls = calls
        self.spec = spec
        #: The links the budget allows, in the order they are tried.
        self.links = links
        self.degradation = degradation
        self.stopwatch = stopwatch
        self._chain: Chain[Any] | None = None
        self._recorder: CallRecorder | None = None
        self._timed = False

    def book_as(self, kind: Kind) -> None:
        """Book this call's attempts as `kind` (a turn that carries a frame is a vision call)."""
        self.spec = replace(self.spec, kind=kind)

    @property
    def chain(self) -> Chain[Any]:
        """The router chain of the loaded connections; raises NoProviderError when none can."""
        if self._chain is None:
            capability = CAPABILITY[self.spec.kind]
            self._chain = resolve_chain(self._calls.hass, self.links, capability)
        return self._chain

    async def run[T](
        self, run: Callable[[Route[Any]], Awaitable[T]], *, usage: Callable[[T], Usage]
    ) -> T:
        """Return what `run` gives on the first route that answers; booked with `usage`."""
        result, settle = await self.open(run)
        settle(usage(result))
        return result

    async def open[T](self, run: Callable[[Route[Any]], Awaitable[T]]) -> tuple[T, Settle]:
        """Like `run`, for a result whose usage is known later (the rest of a sentence's audio).

        Returns the result and the function that books it with its usage, voice and the
        characters shaping saved (`settle(usage, voice=..., characters_saved=...)`).
        """
        recorder = self._calls.meter.recorder(
            self.spec.kind, profile=self.spec.profile, endpoint=self.spec.endpoint, defer=True
        )
        stopwatch = self.stopwatch

        async def timed(route: Route[Any]) -> T:
            stopwatch.ask()
            result = await run(route)
            stopwatch.answer()
            return result

        result = await self._calls.router.call(self.chain, timed, report=recorder.on_attempt)
        return result, recorder.settle

    def stream(
        self,
        open_stream: Callable[[Route[Any]], AsyncIterator[ChatDelta]],
        *,
        apology: str | None = None,
        max_tokens: int | None = None,
        prompt_tokens: int = 0,
    ) -> AsyncIterator[ChatDelta]:
        """Stream a chat answer through the chain; each attempt booked with its usage.

        The rounds of one call (tool call, result, answer) share one record of fallbacks. The
        text stops at `max_tokens` (counted generously, `CHARACTERS_PER_TOKEN` characters
        each) whatever the provider sends: a provider that ignores the limit cannot stream an
        endless answer into the chat log and the voice. An attempt that breaks after the
        provider began is booked with `prompt_tokens` (the request's estimate) and what it
        streamed, marked estimated, unless the provider reported its usage: it billed them.
        """
        if self._recorder is None:
            self._recorder = self._calls.meter.recorder(
                self.spec.kind, profile=self.spec.profile, endpoint=self.spec.endpoint
            )
        stopwatch = self.stopwatch

        limit = None if max_tokens is None else max_tokens * CHARACTERS_PER_TOKEN
        streamed = [0]  # characters the current attempt streamed

        async def timed(stream: AsyncIterator[ChatDelta]) -> AsyncIterator[ChatDelta]:
            left = limit
            try:
                async for delta in stream:
                    stopwatch.answer()
                    streamed[0] += len(delta.text)
                    if left is not None and len(delta.text) > left:
                        LOGGER.warning(
                            "%s streamed past %s tokens: the answer is cut there",
                            self.spec.entity_id or self.spec.kind,
                            max_tokens,
                        )
                        yield replace(delta, text=delta.text[:left], tool_calls=())
                        return
                    if left is not None:
                        left -= len(delta.text)
                    yield delta
            finally:  # a provider stream holds its connection until closed
                if (aclose := getattr(stream, "aclose", None)) is not None:
                    await aclose()

        def opened(route: Route[Any]) -> AsyncIterator[ChatDelta]:
            stopwatch.ask()
            streamed[0] = 0
            return timed(open_stream(route))

        recorder = self._recorder

        def report(attempt: Attempt) -> None:
            if attempt.started and attempt.outcome is not Outcome.OK and attempt.usage is None:
                billed = Usage(
                    input_tokens=prompt_tokens,
                    output_tokens=streamed[0] // ESTIMATED_CHARACTERS_PER_TOKEN,
                )
                attempt = replace(attempt, usage=billed, estimated=True)
            recorder.on_attempt(attempt)

        return self._calls.router.stream(self.chain, opened, apology=apology, report=report)

    def time(self) -> None:
        """Record the stage's timing (once; later calls change nothing)."""
        if self._timed or self.spec.stage is None:
            return
        self._timed = True
        timing = self.stopwatch.timing(self.spec.stage, self.spec.entity_id)
        self._calls.timings.add(timing)
        if timing is not None:  # the turn of the endpoint counts it (runtime/turns.py)
            async_dispatcher_send(self._calls.hass, SIGNAL_TIMED, self.spec.endpoint, timing)

    def __enter__(self) -> Self:
        """Begin the block of the call."""
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Record the stage's timing if the call answered."""
        if kind is None:
            self.time()
