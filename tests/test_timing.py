"""Where a turn's time goes: stopwatch arithmetic and the summary per stage."""

from __future__ import annotations

from custom_components.anima.core.timing import Stopwatch, TimingLog


class Clock:
    """A clock the test moves by hand (seconds)."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_own_time_is_the_stage_minus_the_providers_part() -> None:
    clock = Clock()
    watch = Stopwatch(clock)
    clock.now += 0.004  # building the prompt
    watch.ask()
    clock.now += 0.300  # the model thinks
    watch.answer()
    clock.now += 0.001  # into the chat log
    watch.deliver()
    clock.now += 5  # the rest of the answer does not count
    timing = watch.timing("llm", "conversation.anima_assistant")
    assert timing is not None
    assert round(timing.total_ms, 3) == 305.0
    assert round(timing.provider_ms, 3) == 300.0
    assert round(timing.own_ms, 3) == 5.0


def test_a_fallback_times_the_provider_that_answered() -> None:
    clock = Clock()
    watch = Stopwatch(clock)
    watch.ask()
    clock.now += 2.0  # the first provider timed out
    watch.ask()
    clock.now += 0.2
    watch.answer()
    timing = watch.timing("tts", "tts.anima_voice")
    assert timing is not None
    assert round(timing.provider_ms) == 200
    assert round(timing.own_ms) == 2000  # the failed attempt is the chain's, shown as Anima's


def test_no_answer_no_timing_and_the_summary_per_stage() -> None:
    assert Stopwatch().timing("stt", "stt.anima_listener") is None
    log = TimingLog(keep=3)
    clock = Clock()
    for provider in (0.1, 0.2, 0.3, 0.4):
        watch = Stopwatch(clock)
        watch.ask()
        clock.now += provider
        watch.answer()
        clock.now += 0.01
        log.add(watch.timing("stt", "stt.anima_listener"))
    summary = log.as_dict()["summary"]
    assert list(summary) == ["stt"]
    assert summary["stt"]["count"] == 3  # only the last three are kept
    assert summary["stt"]["provider_ms_50"] == 300.0
    assert summary["stt"]["own_ms_95"] == 10.0
