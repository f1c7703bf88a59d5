"""The router as a user notices it: who answered, what text arrived, who was left alone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from dataclasses import replace
import json
import time

import pytest

from custom_components.anima.core.health import Attempt, HealthState, Outcome
from custom_components.anima.core.routing import (
    DEFAULT_APOLOGY,
    FINISH_INTERRUPTED,
    AllProvidersFailedError,
    Chain,
    Route,
    Router,
)
from custom_components.anima.providers.base import (
    AudioFormat,
    ChatDelta,
    ChatMessage,
    ChatModel,
    ChatRequest,
    ProviderAuthError,
    ProviderConnectionError,
    ProviderError,
    ProviderRateLimitError,
    ProviderRequestError,
    ProviderResponseError,
    ProviderServerError,
    ProviderTimeoutError,
    Transcriber,
    Transcript,
    Usage,
)

REQUEST = ChatRequest(model="", messages=(ChatMessage("user", "What's the weather?"),))


class FakeClock:
    """The router's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeTranscriber:
    """A Transcriber whose calls end as scripted: an error to raise, or None to answer."""

    def __init__(
        self,
        text: str,
        outcomes: Iterable[ProviderError | None] = (),
        *,
        delay: float = 0.0,
        clock: FakeClock | None = None,
        takes: float = 0.0,
    ) -> None:
        self.text = text
        self.outcomes = list(outcomes)
        self.delay = delay
        self.clock = clock
        self.takes = takes  # seconds of the fake clock one call takes
        self.calls = 0
        self.models: list[str | None] = []

    async def transcribe(
        self,
        audio: AsyncIterable[bytes],
        audio_format: AudioFormat,
        *,
        model: str | None = None,
        language: str | None = None,
    ) -> Transcript:
        self.calls += 1
        self.models.append(model)
        async for _ in audio:
            pass
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.clock is not None:
            self.clock.advance(self.takes)
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome
        return Transcript(self.text, Usage(audio_seconds=1.0))


class FakeChat:
    """A ChatModel streaming `texts`; raises `error` instead of the delta at `error_at`."""

    def __init__(
        self,
        texts: Iterable[str],
        *,
        error: ProviderError | None = None,
        error_at: int = 0,
        first_delay: float = 0.0,
        stall_at: int | None = None,
        stall: float = 1.0,
        preamble: bool = False,
    ) -> None:
        self.texts = list(texts)
        self.error = error
        self.error_at = error_at
        self.first_delay = first_delay
        self.stall_at = stall_at  # index before which the stream goes quiet for `stall` s
        self.stall = stall
        self.preamble = preamble  # send a text-less delta first, as many servers do
        self.calls = 0
        self.closed = False

    async def stream_chat(self, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        self.calls += 1
        try:
            if self.first_delay:
                await asyncio.sleep(self.first_delay)
            if self.preamble:
                yield ChatDelta()
            for index, text in enumerate(self.texts):
                if self.error is not None and index == self.error_at:
                    raise self.error
                if index == self.stall_at:
                    await asyncio.sleep(self.stall)
                yield ChatDelta(text=text)
            if self.error is not None and self.error_at >= len(self.texts):
                raise self.error
            yield ChatDelta(usage=Usage(input_tokens=7, output_tokens=3), finish_reason="stop")
        finally:
            self.closed = True


def stt_chain(*routes: tuple[str, Transcriber], total: float = 5.0) -> Chain[Transcriber]:
    return Chain(tuple(Route(pid, p, model=f"{pid}-model") for pid, p in routes), 1.0, total)


def chat_chain(
    *routes: tuple[str, ChatModel], first: float = 1.0, total: float = 5.0
) -> Chain[ChatModel]:
    return Chain(tuple(Route(pid, p, model=f"{pid}-model") for pid, p in routes), first, total)


async def _audio() -> AsyncIterator[bytes]:
    yield b"\x00\x00" * 160


async def transcribe(router: Router, stt_chain: Chain[Transcriber]) -> str:
    async def run(route: Route[Transcriber]) -> Transcript:
        return await route.provider.transcribe(_audio(), AudioFormat(), model=route.model)

    return (await router.call(stt_chain, run)).text


def _open(route: Route[ChatModel]) -> AsyncIterator[ChatDelta]:
    return route.provider.stream_chat(replace(REQUEST, model=route.model or ""))


async def ask(
    router: Router, chat_chain: Chain[ChatModel], apology: str | None = None
) -> list[ChatDelta]:
    return [delta async for delta in router.stream(chat_chain, _open, apology=apology)]


def text_of(deltas: list[ChatDelta]) -> str:
    return "".join(delta.text for delta in deltas)


# --- chain order ----------------------------------------------------------------------------


async def test_first_healthy_route_answers_and_later_routes_are_untouched() -> None:
    first, second = FakeTranscriber("first heard"), FakeTranscriber("second heard")
    router = Router()

    assert await transcribe(router, stt_chain(("a", first), ("b", second))) == "first heard"
    assert first.models == ["a-model"]
    assert second.calls == 0


async def test_first_healthy_stream_answers_and_later_routes_are_untouched() -> None:
    first, second = FakeChat(["Sunny", " today."]), FakeChat(["Rain."])
    deltas = await ask(Router(), chat_chain(("a", first), ("b", second)))

    assert text_of(deltas) == "Sunny today."
    assert deltas[-1].finish_reason == "stop"
    assert second.calls == 0


# --- failure classes ------------------------------------------------------------------------


async def test_rejected_credentials_ask_for_reauth_and_skip_the_provider_until_reset() -> None:
    reauth: list[str] = []
    bad_key = FakeTranscriber("from a", [ProviderAuthError("401")])
    backup = FakeTranscriber("from b")
    router = Router(on_auth_failure=reauth.append)
    stt = stt_chain(("a", bad_key), ("b", backup))

    assert await transcribe(router, stt) == "from b"
    assert reauth == ["a"]
    assert router.state("a") is HealthState.NEEDS_REAUTH

    assert await transcribe(router, stt) == "from b"
    assert bad_key.calls == 1  # not retried with the same bad key
    assert reauth == ["a"]

    router.reset("a")  # re-authentication succeeded
    assert await transcribe(router, stt) == "from a"


async def test_rate_limit_cools_the_provider_down_for_retry_after() -> None:
    clock = FakeClock()
    busy = FakeTranscriber("from a", [ProviderRateLimitError("429", retry_after=20)])
    backup = FakeTranscriber("from b")
    router = Router(clock=clock)
    stt = stt_chain(("a", busy), ("b", backup))

    assert await transcribe(router, stt) == "from b"
    clock.advance(19)
    assert router.state("a") is HealthState.COOLDOWN
    assert await transcribe(router, stt) == "from b"
    assert busy.calls == 1

    clock.advance(2)
    assert await transcribe(router, stt) == "from a"
    assert router.state("a") is HealthState.CLOSED


async def test_rate_limit_without_retry_after_uses_the_default_cooldown() -> None:
    clock = FakeClock()
    busy = FakeTranscriber("from a", [ProviderRateLimitError("429")])
    router = Router(clock=clock, default_cooldown=30)
    stt = stt_chain(("a", busy), ("b", FakeTranscriber("from b")))

    assert await transcribe(router, stt) == "from b"
    clock.advance(29)
    assert await transcribe(router, stt) == "from b"
    clock.advance(2)
    assert await transcribe(router, stt) == "from a"


@pytest.mark.parametrize(
    "error",
    [
        ProviderServerError("bad gateway", status=502),
        ProviderTimeoutError("read timed out"),
        ProviderConnectionError("connection refused"),
        ProviderResponseError("not JSON"),
    ],
    ids=["5xx", "timeout", "connection", "malformed"],
)
async def test_provider_side_failures_move_on_and_count_for_the_breaker(
    error: ProviderError,
) -> None:
    router = Router()
    stt = stt_chain(("a", FakeTranscriber("from a", [error])), ("b", FakeTranscriber("from b")))

    assert await transcribe(router, stt) == "from b"
    assert router.health("a").consecutive_failures == 1
    assert router.health("a").last_error == type(error).__name__


async def test_refused_requests_move_on_but_never_open_the_breaker() -> None:
    refusing = FakeTranscriber("from a", [ProviderRequestError("413", status=413)] * 5)
    router = Router(failure_threshold=3)
    stt = stt_chain(("a", refusing), ("b", FakeTranscriber("from b")))

    for _ in range(5):
        assert await transcribe(router, stt) == "from b"
    assert refusing.calls == 5  # still tried every time
    assert router.state("a") is HealthState.CLOSED
    assert await transcribe(router, stt) == "from a"


# --- time-outs ------------------------------------------------------------------------------


async def test_first_token_timeout_moves_to_the_next_provider_quickly() -> None:
    slow, fast = FakeChat(["Late."], first_delay=1.0), FakeChat(["Quick."])
    started = time.perf_counter()

    deltas = await ask(Router(), chat_chain(("a", slow), ("b", fast), first=0.05))

    assert text_of(deltas) == "Quick."
    assert time.perf_counter() - started < 0.5
    assert slow.closed


async def test_first_token_timeout_does_not_cut_a_slow_but_steady_answer() -> None:
    steady = FakeChat(["It is", " sunny."], stall_at=1, stall=0.15)

    deltas = await ask(Router(), chat_chain(("a", steady), first=0.05, total=5.0))

    assert text_of(deltas) == "It is sunny."


async def test_total_timeout_before_any_text_moves_to_the_next_provider() -> None:
    # The first (text-less) delta arrives in time, then the stream stalls past the total.
    stalling = FakeChat(["Never"], preamble=True, stall_at=0)
    router = Router()

    deltas = await ask(
        router, chat_chain(("a", stalling), ("b", FakeChat(["Backup."])), total=0.05)
    )

    assert text_of(deltas) == "Backup."
    assert router.health("a").last_error == "ProviderTimeoutError"


async def test_total_timeout_after_text_ends_with_the_apology() -> None:
    stalling = FakeChat(["It is", " sunny"], stall_at=1)
    backup = FakeChat(["Backup."])

    deltas = await ask(Router(), chat_chain(("a", stalling), ("b", backup), total=0.05))

    assert text_of(deltas) == "It is" + DEFAULT_APOLOGY
    assert deltas[-1].finish_reason == FINISH_INTERRUPTED
    assert backup.calls == 0


async def test_total_timeout_of_a_one_shot_call_moves_on() -> None:
    slow = FakeTranscriber("from a", delay=1.0)
    started = time.perf_counter()

    text = await transcribe(
        Router(), stt_chain(("a", slow), ("b", FakeTranscriber("from b")), total=0.05)
    )

    assert text == "from b"
    assert time.perf_counter() - started < 0.5


# --- streams --------------------------------------------------------------------------------


async def test_stream_failing_before_text_shows_only_the_next_providers_text() -> None:
    broken = FakeChat(["Half"], error=ProviderServerError("overloaded", 503), preamble=True)
    deltas = await ask(Router(), chat_chain(("a", broken), ("b", FakeChat(["Backup", " answer."]))))

    assert text_of(deltas) == "Backup answer."
    assert [d.finish_reason for d in deltas if d.finish_reason] == ["stop"]


async def test_stream_failing_after_text_apologises_instead_of_raising() -> None:
    broken = FakeChat(["The weather", " is"], error=ProviderConnectionError("reset"), error_at=2)
    backup = FakeChat(["Backup."])

    deltas = await ask(Router(), chat_chain(("a", broken), ("b", backup)))

    assert text_of(deltas) == "The weather is Sorry, I lost my connection."
    assert deltas[-1].finish_reason == FINISH_INTERRUPTED
    assert backup.calls == 0


async def test_apology_text_is_configurable_per_router_and_per_call() -> None:
    def broken() -> FakeChat:
        return FakeChat(["Hallo"], error=ProviderResponseError("bad chunk"), error_at=1)

    router = Router(apology=" Entschuldigung.")
    assert text_of(await ask(router, chat_chain(("a", broken())))) == "Hallo Entschuldigung."
    assert (
        text_of(await ask(router, chat_chain(("a", broken())), apology=" Pardon."))
        == "Hallo Pardon."
    )


class NoVisionChat:
    """A ChatModel that checks the request before it streams, as a text-only model does."""

    def stream_chat(self, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        raise ProviderRequestError("this model takes no images", status=400)


async def test_a_request_refused_before_streaming_goes_to_the_next_provider() -> None:
    deltas = await ask(Router(), chat_chain(("a", NoVisionChat()), ("b", FakeChat(["A cat."]))))

    assert text_of(deltas) == "A cat."


async def test_closing_the_answer_early_closes_the_provider_stream() -> None:
    provider = FakeChat(["One", " two", " three"])
    answer = Router().stream(chat_chain(("a", provider)), _open)

    assert (await anext(answer)).text == "One"
    await answer.aclose()  # type: ignore[attr-defined]

    assert provider.closed


# --- circuit breaker ------------------------------------------------------------------------


async def test_breaker_opens_after_consecutive_failures_and_skips_the_provider() -> None:
    clock = FakeClock()
    flaky = FakeTranscriber("from a", [ProviderServerError("500", 500)] * 3)
    router = Router(clock=clock, failure_threshold=3, open_seconds=30)
    stt = stt_chain(("a", flaky), ("b", FakeTranscriber("from b")))

    for _ in range(3):
        assert await transcribe(router, stt) == "from b"
    assert router.state("a") is HealthState.OPEN

    clock.advance(29)
    assert await transcribe(router, stt) == "from b"
    assert flaky.calls == 3  # skipped while open


async def test_half_open_breaker_lets_one_probe_through_and_closes_on_success() -> None:
    clock = FakeClock()
    flaky = FakeTranscriber("from a", [ProviderServerError("500", 500)] * 3, delay=0.05)
    router = Router(clock=clock, failure_threshold=3, open_seconds=30)
    stt = stt_chain(("a", flaky), ("b", FakeTranscriber("from b")))
    for _ in range(3):
        await transcribe(router, stt)

    clock.advance(31)
    assert router.state("a") is HealthState.HALF_OPEN
    answers = await asyncio.gather(transcribe(router, stt), transcribe(router, stt))

    assert sorted(answers) == ["from a", "from b"]  # one probe, the other call fell back
    assert flaky.calls == 4
    assert router.state("a") is HealthState.CLOSED
    assert router.health("a").consecutive_failures == 0
    assert await transcribe(router, stt) == "from a"


async def test_failed_probe_reopens_the_breaker() -> None:
    clock = FakeClock()
    flaky = FakeTranscriber("from a", [ProviderConnectionError("down")] * 4)
    router = Router(clock=clock, failure_threshold=3, open_seconds=30)
    stt = stt_chain(("a", flaky), ("b", FakeTranscriber("from b")))
    for _ in range(3):
        await transcribe(router, stt)

    clock.advance(31)
    assert await transcribe(router, stt) == "from b"  # the probe failed
    assert flaky.calls == 4
    assert router.state("a") is HealthState.OPEN

    clock.advance(29)
    assert await transcribe(router, stt) == "from b"
    assert flaky.calls == 4
    clock.advance(2)
    assert await transcribe(router, stt) == "from a"  # the next probe succeeds


async def test_a_cancelled_probe_does_not_block_later_probes() -> None:
    clock = FakeClock()
    flaky = FakeTranscriber("from a", [ProviderServerError("500", 500)] * 3)
    router = Router(clock=clock, failure_threshold=3, open_seconds=30)
    stt = stt_chain(("a", flaky), ("b", FakeTranscriber("from b")))
    for _ in range(3):
        await transcribe(router, stt)
    clock.advance(31)

    flaky.delay = 1.0
    probe = asyncio.create_task(transcribe(router, stt))
    await asyncio.sleep(0.01)
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe

    flaky.delay = 0.0
    assert await transcribe(router, stt) == "from a"


# --- everything failed ----------------------------------------------------------------------


async def test_all_routes_failing_raise_one_error_listing_every_attempt() -> None:
    router = Router(on_auth_failure=lambda _: None)
    stt = stt_chain(
        ("a", FakeTranscriber("", [ProviderServerError("upstream 502", 502)] * 2)),
        ("b", FakeTranscriber("", [ProviderAuthError("key rejected")])),
    )

    with pytest.raises(AllProvidersFailedError) as caught:
        await transcribe(router, stt)
    assert [(pid, type(err)) for pid, err in caught.value.attempts] == [
        ("a", ProviderServerError),
        ("b", ProviderAuthError),
    ]
    assert caught.value.translation_key == "all_providers_failed"
    assert str(caught.value) == (
        "All providers failed: a: ProviderServerError: upstream 502; "
        "b: ProviderAuthError: key rejected"
    )

    with pytest.raises(AllProvidersFailedError) as again:
        await transcribe(router, stt)
    assert [pid for pid, _ in again.value.attempts] == ["a"]
    assert again.value.skipped == (("b", HealthState.NEEDS_REAUTH),)


async def test_stream_with_every_route_failing_raises_before_any_text() -> None:
    chat = chat_chain(
        ("a", FakeChat(["x"], error=ProviderConnectionError("refused"))),
        ("b", FakeChat(["y"], error=ProviderTimeoutError("slow"))),
    )
    seen: list[ChatDelta] = []

    async def listen() -> None:
        async for delta in Router().stream(chat, _open):
            seen.append(delta)

    with pytest.raises(AllProvidersFailedError) as caught:
        await listen()
    assert seen == []
    assert [pid for pid, _ in caught.value.attempts] == ["a", "b"]


# --- reporting ------------------------------------------------------------------------------


async def test_every_attempt_is_reported_with_outcome_and_latency() -> None:
    clock = FakeClock()
    attempts: list[Attempt] = []
    router = Router(clock=clock, on_attempt=attempts.append, on_auth_failure=lambda _: None)
    stt = stt_chain(
        ("a", FakeTranscriber("", [ProviderRateLimitError("429", 5)], clock=clock, takes=0.25)),
        ("b", FakeTranscriber("", [ProviderAuthError("401")], clock=clock, takes=0.5)),
        ("c", FakeTranscriber("from c", clock=clock, takes=1.5)),
    )

    assert await transcribe(router, stt) == "from c"
    assert [(a.provider_id, a.model, a.outcome, a.latency, a.error) for a in attempts] == [
        ("a", "a-model", Outcome.RATE_LIMITED, 0.25, "ProviderRateLimitError"),
        ("b", "b-model", Outcome.AUTH_FAILED, 0.5, "ProviderAuthError"),
        ("c", "c-model", Outcome.OK, 1.5, None),
    ]


async def test_stream_attempts_carry_the_usage_the_provider_reported() -> None:
    attempts: list[Attempt] = []
    router = Router(on_attempt=attempts.append)

    await ask(router, chat_chain(("a", FakeChat(["Hi."]))))

    assert [(a.outcome, a.usage) for a in attempts] == [
        (Outcome.OK, Usage(input_tokens=7, output_tokens=3))
    ]


async def test_snapshot_is_plain_data_for_diagnostics() -> None:
    clock = FakeClock()
    router = Router(clock=clock, default_cooldown=10, on_auth_failure=lambda _: None)
    stt = stt_chain(
        ("a", FakeTranscriber("", [ProviderRateLimitError("429")])),
        ("b", FakeTranscriber("", [ProviderAuthError("401")])),
        ("c", FakeTranscriber("from c")),
    )
    await transcribe(router, stt)
    clock.advance(4)

    snapshot = router.snapshot()

    assert json.loads(json.dumps(snapshot)) == snapshot
    assert snapshot == {
        "a": {
            "state": "cooldown",
            "consecutive_failures": 0,
            "last_error": "ProviderRateLimitError",
            "last_success": None,
            "retry_in": 6.0,
        },
        "b": {
            "state": "needs_reauth",
            "consecutive_failures": 0,
            "last_error": "ProviderAuthError",
            "last_success": None,
            "retry_in": None,
        },
        "c": {
            "state": "closed",
            "consecutive_failures": 0,
            "last_error": None,
            "last_success": 1000.0,
            "retry_in": None,
        },
    }
