"""Where a turn's time goes: the provider's part and Anima's own, per stage.

Pure: no Home Assistant imports. The entities time each stage of a turn:

- `stt`: end of the audio stream -> transcript (provider: the transcription call);
- `llm`: the turn starts -> first text in the chat log (provider: request sent -> first delta);
- `tts`: a sentence is ready -> its first audio leaves (provider: request -> first chunk).

`own` is the stage's time minus the provider's: prompt building, routing, chain resolution,
shaping, format conversion. The last turns are kept for diagnostics with p50/p95 per stage.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass, field
import statistics
import time
from typing import Any, Final, Literal

type Stage = Literal["stt", "llm", "tts"]
KEEP: Final = 100


@dataclass(frozen=True, slots=True)
class StageTiming:
    """One stage of one turn, in milliseconds."""

    stage: Stage
    entity_id: str
    total_ms: float
    provider_ms: float
    at: float = field(default_factory=time.time)

    @property
    def own_ms(self) -> float:
        """Anima's own part of the stage."""
        return max(0.0, self.total_ms - self.provider_ms)


class Stopwatch:
    """Marks the points of one stage: start, provider asked, provider answered, delivered."""

    def __init__(self, clock: Any = time.perf_counter) -> None:
        """Start now."""
        self._clock = clock
        self.started = clock()
        self.asked: float | None = None
        self.answered: float | None = None
        self.delivered: float | None = None

    def ask(self) -> None:
        """Mark the provider request going out (the last one, if the router fell back)."""
        self.asked = self._clock()
        self.answered = None

    def answer(self) -> None:
        """Mark the provider's first output arriving."""
        if self.answered is None:
            self.answered = self._clock()

    def deliver(self) -> None:
        """Mark the first output leaving Anima (into the chat log, or as audio)."""
        if self.delivered is None:
            self.delivered = self._clock()

    def timing(self, stage: Stage, entity_id: str) -> StageTiming | None:
        """Return the stage's timing up to delivery (or now); None if no provider answered."""
        if self.asked is None or self.answered is None:
            return None
        end = self.delivered if self.delivered is not None else self._clock()
        total = (end - self.started) * 1000
        return StageTiming(stage, entity_id, total, (self.answered - self.asked) * 1000)


class TimingLog:
    """The last stage timings, with a summary per stage."""

    def __init__(self, keep: int = KEEP) -> None:
        """Keep the last `keep` timings."""
        self._timings: deque[StageTiming] = deque(maxlen=keep)

    def add(self, timing: StageTiming | None) -> None:
        """Keep a stage's timing (None: nothing to keep)."""
        if timing is not None:
            self._timings.append(timing)

    def as_dict(self) -> dict[str, Any]:
        """Recent timings and, per stage, p50/p95 of total, provider and own milliseconds."""
        summary: dict[str, Any] = {}
        for stage in ("stt", "llm", "tts"):
            rows = [t for t in self._timings if t.stage == stage]
            if rows:
                summary[stage] = {
                    "count": len(rows),
                    **{
                        f"{name}_ms_{p}": round(_percentile([getattr(t, key) for t in rows], p), 1)
                        for name, key in (
                            ("total", "total_ms"),
                            ("provider", "provider_ms"),
                            ("own", "own_ms"),
                        )
                        for p in (50, 95)
                    },
                }
        recent = [asdict(t) | {"own_ms": round(t.own_ms, 1)} for t in list(self._timings)[-20:]]
        return {"summary": summary, "recent": recent}


def _percentile(values: list[float], percent: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[percent - 1]
