"""One answer per room: which endpoint answers when several heard the same wake word."""

from __future__ import annotations

from custom_components.anima.core.rooms import WAKE_WINDOW, WakeLog

AREAS = {"kitchen-1": "kitchen", "kitchen-2": "kitchen", "hall": "hall", "attic": None}


def test_the_first_to_hear_answers_and_the_rest_of_the_room_stays_quiet() -> None:
    wakes = WakeLog()
    wakes.heard("kitchen-2", 100.3)
    wakes.heard("kitchen-1", 100.0)
    wakes.heard("hall", 100.1)
    assert wakes.answers("kitchen-1", AREAS)
    assert not wakes.answers("kitchen-2", AREAS)  # heard 0.3 s after kitchen-1
    assert wakes.answers("hall", AREAS)  # another room answers its own


def test_wake_ups_further_apart_than_the_window_are_separate_questions() -> None:
    wakes = WakeLog()
    wakes.heard("kitchen-1", 100.0)
    wakes.heard("kitchen-2", 100.0 + WAKE_WINDOW + 0.1)
    assert wakes.answers("kitchen-1", AREAS)
    assert wakes.answers("kitchen-2", AREAS)


def test_devices_that_were_not_heard_or_are_no_endpoints_always_answer() -> None:
    wakes = WakeLog()
    wakes.heard("kitchen-1", 100.0)
    assert wakes.answers("kitchen-2", AREAS)  # typed, or its satellite never listened
    assert wakes.answers("phone", AREAS)
    assert wakes.answers(None, AREAS)


def test_a_tie_is_decided_the_same_way_every_time() -> None:
    wakes = WakeLog()
    wakes.heard("kitchen-2", 100.0)
    wakes.heard("kitchen-1", 100.0)
    assert [wakes.answers(d, AREAS) for d in ("kitchen-1", "kitchen-2")] == [True, False]
