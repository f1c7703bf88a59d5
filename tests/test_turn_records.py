"""The turn record: one turn assembled from its ledger records, stage times, answer and voice."""

from __future__ import annotations

from decimal import Decimal
import json

from custom_components.anima.core.ledger import Kind, UsageRecord
from custom_components.anima.core.speech.tiers import MessageClass, Tier
from custom_components.anima.core.turns import (
    EARLY_TTL,
    MAX_TEXT,
    TurnDraft,
    TurnLog,
    describe,
)


def _record(kind: Kind, endpoint: str | None, cost: str, model: str | None = None) -> UsageRecord:
    return UsageRecord(
        time=0.0,
        provider=f"{kind}-connection",
        preset="custom",
        kind=kind,
        model=model,
        endpoint=endpoint,
        cost=Decimal(cost),
    )


def _turn(log: TurnLog, device: str | None, at: float = 1000.0) -> TurnDraft:
    draft = TurnDraft(at, device, "Kitchen", "conversation.anima_assistant", "c1", "What's up?")
    log.begin(draft)
    return draft


def test_a_turn_gathers_its_speech_to_text_heard_before_it_began() -> None:
    log = TurnLog()
    log.record(_record(Kind.STT, "kitchen", "0.001"), now=999.0)
    log.time_stage("kitchen", "stt", 412.4, now=999.0)
    log.record(_record(Kind.STT, "hall", "0.5"), now=999.0)  # another device's
    draft = _turn(log, "kitchen")
    log.record(_record(Kind.CHAT, "kitchen", "0.002", "gpt-4.1-mini"), now=1001.0)
    log.time_stage("kitchen", "llm", 800.0, now=1001.0)
    log.time_stage("kitchen", "llm", 950.0, now=1002.0)  # a second call: the first counts
    draft.answer("All fine.", MessageClass.ANSWER, success=True, continue_conversation=False)
    record = draft.finish()
    assert [use.kind for use in record.providers] == [Kind.STT, Kind.CHAT]
    assert record.cost == Decimal("0.003")
    assert record.stages == {"stt": 412, "llm": 800}
    assert not record.looked


def test_what_was_booked_long_before_is_not_the_turns() -> None:
    log = TurnLog()
    log.record(_record(Kind.STT, "kitchen", "0.001"), now=1000.0 - EARLY_TTL - 1)
    draft = _turn(log, "kitchen")
    assert draft.finish().providers == ()


def test_a_turn_is_done_once_answered_and_its_voice_has_finished() -> None:
    draft = TurnDraft(0.0, "kitchen", None, "conversation.a", None, "Hi")
    draft.speak(Tier.COMPACT)  # a streamed answer speaks while the agent still writes
    draft.answer("Hello.", MessageClass.ANSWER, success=True, continue_conversation=False)
    assert not draft.done
    draft.spoken()
    assert draft.done
    assert draft.finish().tier is Tier.COMPACT


def test_the_event_data_is_json_in_the_shown_currency() -> None:
    log = TurnLog()
    draft = _turn(log, "kitchen")
    log.record(_record(Kind.VISION, "kitchen", "0.01", "gpt-4.1-mini"), now=1000.0)
    draft.answer("A blue wall.", MessageClass.ANSWER, success=True, continue_conversation=True)
    data = draft.finish().as_data(lambda usd: usd * 2, "EUR", {"vision-connection": "Cloud"})
    assert json.loads(json.dumps(data)) == data
    assert data["cost"] == 0.02
    assert data["currency"] == "EUR"
    assert data["looked"] is True
    assert data["providers"] == [
        {
            "kind": "vision",
            "connection": "Cloud",
            "model": "gpt-4.1-mini",
            "outcome": "ok",
            "cost": 0.02,
        }
    ]
    assert describe(data) == (
        'answered "What\'s up?": "A blue wall."; 0.0200 EUR; Cloud gpt-4.1-mini'
    )


def test_a_failed_turn_says_so_and_texts_are_bounded() -> None:
    draft = TurnDraft(0.0, None, None, "conversation.a", None, "x" * (MAX_TEXT * 3))
    draft.answer("Sorry.", None, success=False, continue_conversation=False)
    data = draft.finish().as_data(lambda usd: usd, "USD")
    assert len(data["question"]) == MAX_TEXT
    assert describe(data).startswith("could not answer")


def test_typed_turns_collect_nothing_before_they_begin() -> None:
    log = TurnLog()
    log.record(_record(Kind.CHAT, None, "0.1"), now=999.0)  # an automation's call
    draft = _turn(log, None)
    assert draft.finish().providers == ()
