"""One turn as a user sees it: who asked what, the answer, the providers, each stage's time, cost.

Pure: no Home Assistant imports. A turn is assembled from what the pipeline already knows: the
ledger records booked to the asking device (speech-to-text comes before the agent's turn, so
records a device books while no turn runs are held for a short while), the stage timings, the
agent's answer and class, and the voice's tier. runtime/turns.py feeds it and publishes the
finished `TurnRecord`: the `anima_turn` event, the logbook entry and the last-turn sensor all
show the same record.

Bounded: a turn keeps at most `MAX_RECORDS` provider calls and `MAX_TEXT` characters of its
question and answer; at most `MAX_OPEN` turns run at once and a device holds at most
`MAX_EARLY` early records, each for `EARLY_TTL` seconds.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Final

from .ledger import Kind, UsageRecord
from .speech.tiers import MessageClass, Tier
from .timing import Stage

MAX_RECORDS: Final = 64
MAX_TEXT: Final = 500
MAX_OPEN: Final = 32
MAX_EARLY: Final = 8
#: How long a record booked before its turn began (speech-to-text) waits for that turn.
EARLY_TTL: Final = 30.0
STAGES: Final[tuple[Stage, ...]] = ("stt", "llm", "tts")

type Shown = Callable[[Decimal], Decimal]


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


@dataclass(frozen=True, slots=True)
class ProviderUse:
    """One provider call of a turn: what it did, on which connection and model, how it went."""

    kind: Kind
    connection: str  # the connection's config entry id
    model: str | None
    outcome: str
    cost: Decimal

    @classmethod
    def of(cls, record: UsageRecord) -> ProviderUse:
        """Read what a turn shows of a ledger record."""
        return cls(
            record.kind, record.provider, record.model or record.voice, record.outcome, record.cost
        )

    def as_data(self, shown: Shown, names: Mapping[str, str]) -> dict[str, Any]:
        """JSON-ready, the cost in the shown currency and the connection by its title."""
        return {
            "kind": str(self.kind),
            "connection": names.get(self.connection, self.connection),
            "model": self.model,
            "outcome": self.outcome,
            "cost": float(round(shown(self.cost), 6)),
        }


@dataclass(frozen=True, slots=True)
class TurnRecord:
    """A finished turn."""

    time: float  # when it began, UTC epoch seconds
    device_id: str | None  # the device that asked (None: typed, no device)
    endpoint: str | None  # the name of that device's endpoint, if it is one
    agent: str  # the agent's entity id
    conversation_id: str | None
    question: str
    answer: str = ""
    message_class: MessageClass | None = None
    #: The tier the answer was spoken in (None: no voice of Anima spoke it).
    tier: Tier | None = None
    success: bool = False
    continue_conversation: bool = False
    providers: tuple[ProviderUse, ...] = ()
    #: Milliseconds of each stage, from its start to its first output (see core/timing.py).
    stages: Mapping[Stage, int] = field(default_factory=dict)

    @property
    def cost(self) -> Decimal:
        """What the turn's provider calls cost, in the ledger's currency."""
        return sum((use.cost for use in self.providers), Decimal(0))

    @property
    def looked(self) -> bool:
        """Whether the turn looked through a camera (a vision call)."""
        return any(use.kind is Kind.VISION for use in self.providers)

    def as_data(
        self, shown: Shown, currency: str, names: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """JSON-ready: what the `anima_turn` event carries (costs shown in `currency`)."""
        names = names or {}
        return {
            "endpoint": self.endpoint,
            "agent": self.agent,
            "conversation_id": self.conversation_id,
            "question": self.question,
            "answer": self.answer,
            "message_class": None if self.message_class is None else str(self.message_class),
            "tier": None if self.tier is None else str(self.tier),
            "success": self.success,
            "continue_conversation": self.continue_conversation,
            "looked": self.looked,
            "providers": [use.as_data(shown, names) for use in self.providers],
            "stages": {stage: self.stages[stage] for stage in STAGES if stage in self.stages},
            "cost": float(round(shown(self.cost), 6)),
            "currency": currency,
        }


class TurnDraft:
    """A turn in progress: what it gathered so far, and whether its voice still speaks."""

    def __init__(
        self,
        time: float,
        device_id: str | None,
        endpoint: str | None,
        agent: str,
        conversation_id: str | None,
        question: str,
    ) -> None:
        """Begin the turn of `question`, asked on `device_id`."""
        self._record = TurnRecord(
            time, device_id, endpoint, agent, conversation_id, _clip(question)
        )
        self._uses: list[ProviderUse] = []
        self._stages: dict[Stage, int] = {}
        self.answered = False
        self.speaking = 0  # voices speaking its answer now
        self.spoke = False

    @property
    def device_id(self) -> str | None:
        """The device that asked."""
        return self._record.device_id

    @property
    def began(self) -> float:
        """When the turn began (epoch seconds)."""
        return self._record.time

    def add(self, record: UsageRecord) -> None:
        """Count a provider call booked to the turn's device."""
        if len(self._uses) < MAX_RECORDS:
            self._uses.append(ProviderUse.of(record))

    def time_stage(self, stage: Stage, milliseconds: float) -> None:
        """Keep a stage's time (the first of each stage: the one the user waited for)."""
        self._stages.setdefault(stage, round(milliseconds))

    def answer(
        self,
        text: str,
        message_class: MessageClass | None,
        *,
        success: bool,
        continue_conversation: bool,
    ) -> None:
        """Note the agent's answer (or that it failed)."""
        self.answered = True
        self._record = replace(
            self._record,
            answer=_clip(text),
            message_class=message_class,
            success=success,
            continue_conversation=continue_conversation,
        )

    def speak(self, tier: Tier) -> None:
        """Note a voice beginning to speak the answer in `tier`."""
        self.speaking += 1
        if self._record.tier is None:
            self._record = replace(self._record, tier=tier)

    def spoken(self) -> None:
        """Note that a voice's audio of the answer ended."""
        self.speaking = max(0, self.speaking - 1)
        self.spoke = True

    @property
    def done(self) -> bool:
        """Answered, and its reply spoken (no voice speaks it now, and one has)."""
        return self.answered and self.spoke and not self.speaking

    def finish(self) -> TurnRecord:
        """Return the record of the turn as it stands."""
        return replace(self._record, providers=tuple(self._uses), stages=dict(self._stages))


class TurnLog:
    """The turns in progress by asking device, and what devices booked before a turn began."""

    def __init__(self) -> None:
        """Start with no turn."""
        self._open: OrderedDict[str | None, TurnDraft] = OrderedDict()
        self._early: OrderedDict[str, list[tuple[float, UsageRecord | tuple[Stage, float]]]] = (
            OrderedDict()
        )

    def begin(self, draft: TurnDraft) -> TurnDraft | None:
        """Start `draft`; return the turn it replaces (the device's previous, or the oldest)."""
        device = draft.device_id
        replaced = self._open.pop(device, None)
        if replaced is None and len(self._open) >= MAX_OPEN:
            replaced = self._open.popitem(last=False)[1]
        self._open[device] = draft
        for at, item in self._early.pop(device or "", []):
            if draft.began - at <= EARLY_TTL:
                self._feed(draft, item)
        return replaced

    def draft(self, device_id: str | None) -> TurnDraft | None:
        """Return the turn running on `device_id`."""
        return self._open.get(device_id)

    def take(self, device_id: str | None) -> TurnDraft | None:
        """Return the turn running on `device_id` and forget it."""
        return self._open.pop(device_id, None)

    def record(self, record: UsageRecord, now: float) -> None:
        """Count `record` in its device's turn, or hold it for the turn about to begin."""
        self._route(record.endpoint, record, now)

    def time_stage(
        self, device_id: str | None, stage: Stage, milliseconds: float, now: float
    ) -> None:
        """Count a stage's time in its device's turn, or hold it like a record."""
        self._route(device_id, (stage, milliseconds), now)

    def _route(
        self, device_id: str | None, item: UsageRecord | tuple[Stage, float], now: float
    ) -> None:
        if (draft := self._open.get(device_id)) is not None:
            self._feed(draft, item)
            return
        if device_id is None:  # typed turns hear nothing first
            return
        held = self._early.setdefault(device_id, [])
        self._early.move_to_end(device_id)
        held[:] = [(at, old) for at, old in held if now - at <= EARLY_TTL][-(MAX_EARLY - 1) :]
        held.append((now, item))
        while len(self._early) > MAX_OPEN:
            self._early.popitem(last=False)

    @staticmethod
    def _feed(draft: TurnDraft, item: UsageRecord | tuple[Stage, float]) -> None:
        if isinstance(item, UsageRecord):
            draft.add(item)
        else:
            draft.time_stage(*item)


def describe(data: Mapping[str, Any]) -> str:
    """Say what an `anima_turn` event's data tells, in one logbook line."""
    question = f'"{data.get("question") or ""}"'
    if not data.get("success"):
        return f"could not answer {question}"
    parts = [f'answered {question}: "{data.get("answer") or ""}"']
    if data.get("tier"):
        parts.append(f"{data['tier']} voice")
    parts.append(f"{data.get('cost', 0):.4f} {data.get('currency', '')}".rstrip())
    stages = data.get("stages") or {}
    if stages:
        parts.append(", ".join(f"{stage} {ms} ms" for stage, ms in stages.items()))
    used = [
        " ".join(str(part) for part in (use.get("connection"), use.get("model")) if part)
        for use in data.get("providers") or []
        if isinstance(use, Mapping)
    ]
    if used:
        parts.append(", ".join(dict.fromkeys(used)))
    return "; ".join(parts)
