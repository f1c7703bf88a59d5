"""Turn notes: what a voice learns about the text it is given."""

from __future__ import annotations

from custom_components.anima.core.speech.tiers import MessageClass
from custom_components.anima.core.turn_notes import Note, TurnNotes


def test_a_finished_answer_is_found_by_its_text() -> None:
    notes = TurnNotes()
    notes.begin("kitchen")
    notes.end("kitchen", " Turned on the light. ", MessageClass.CONFIRMATION)
    assert notes.note_for("Turned on the light.") == Note(MessageClass.CONFIRMATION, "kitchen")
    assert notes.note_for("Something else.") is None


def test_a_stream_belongs_to_the_one_running_turn_only() -> None:
    notes = TurnNotes()
    assert notes.streaming() is None
    notes.begin("kitchen")
    assert notes.streaming() == Note(None, "kitchen")
    notes.begin("hall")
    assert notes.streaming() is None  # two turns at once: which one is unknown
    notes.end("hall", "Hi.", MessageClass.ANSWER)
    assert notes.streaming() == Note(None, "kitchen")


def test_notes_are_bounded_and_expire() -> None:
    notes = TurnNotes(size=2, ttl=0.0)
    for text in ("one", "two", "three"):
        notes.end(None, text, MessageClass.ANSWER)
    assert notes.note_for("one") is None  # pushed out
    assert notes.note_for("three") is None  # expired at once with ttl 0


def test_a_stream_right_after_an_answer_is_that_answer() -> None:
    notes = TurnNotes()
    assert not notes.just_answered()
    notes.begin("kitchen")
    notes.end("kitchen", "Turned on the light.", MessageClass.CONFIRMATION)
    assert notes.just_answered()
    assert not notes.just_answered(within=-1)
