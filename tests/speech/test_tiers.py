"""Voice tiers: policy, budget steps, availability, the alert rule, (de)serialising."""

from __future__ import annotations

import json

import pytest

from custom_components.anima.core.speech.earcons import Earcon
from custom_components.anima.core.speech.tiers import (
    ALWAYS_LOCAL,
    DEFAULT_POLICY,
    EARCON_FOR_CLASS,
    TIERS,
    MessageClass,
    PolicyError,
    Tier,
    VoicePolicy,
    choose_tier,
    classify_agent_reply,
    classify_announcement,
    classify_intent,
    classify_turn,
    earcon_for,
)

EVERY_TIER = frozenset(Tier)
EARCON, FORMANT, COMPACT, EXPRESSIVE = Tier.EARCON, Tier.FORMANT, Tier.COMPACT, Tier.EXPRESSIVE


def test_tiers_order_by_cost_not_alphabet() -> None:
    assert [*TIERS] == [EARCON, FORMANT, COMPACT, EXPRESSIVE]
    assert EARCON < FORMANT < COMPACT < EXPRESSIVE
    assert COMPACT > EARCON  # as strings "compact" < "earcon"
    assert sorted([EXPRESSIVE, COMPACT, EARCON, FORMANT]) == [*TIERS]
    assert max({FORMANT, COMPACT}) is COMPACT
    assert EARCON <= EARCON
    assert EXPRESSIVE >= COMPACT
    assert [tier.rank for tier in TIERS] == [0, 1, 2, 3]
    assert not EARCON.spoken
    assert all(tier.spoken for tier in TIERS[1:])
    assert Tier("formant") == "formant"  # a StrEnum: stored and shown as its value
    assert EARCON < "formant"  # a string compares as the tier it names
    assert FORMANT < "compact"
    with pytest.raises(TypeError):
        assert EARCON < "zzz"
    with pytest.raises(TypeError):
        assert EARCON < 3


def test_default_policy() -> None:
    assert DEFAULT_POLICY.to_dict() == {
        "confirmation": "earcon",
        "notification": "formant",
        "alert": "compact",
        "answer": "compact",
        "conversation": "expressive",
    }
    assert DEFAULT_POLICY.tier_for(MessageClass.ALERT) is COMPACT
    assert DEFAULT_POLICY.tier_for("answer") is COMPACT
    assert DEFAULT_POLICY.tier_for("conversation") is EXPRESSIVE


@pytest.mark.parametrize(
    ("message_class", "expected"),
    [
        (MessageClass.CONFIRMATION, EARCON),
        (MessageClass.NOTIFICATION, FORMANT),
        (MessageClass.ALERT, COMPACT),
        (MessageClass.ANSWER, COMPACT),
        (MessageClass.CONVERSATION, EXPRESSIVE),
    ],
)
def test_within_budget_every_class_gets_its_policy_tier(
    message_class: MessageClass, expected: Tier
) -> None:
    assert choose_tier(DEFAULT_POLICY, message_class, available=EVERY_TIER) is expected


@pytest.mark.parametrize(
    ("steps_down", "expected"),
    [(0, EXPRESSIVE), (1, COMPACT), (2, FORMANT), (3, EARCON), (4, EARCON), (100, EARCON)],
)
def test_budget_steps_go_cheaper_down_to_the_earcon(steps_down: int, expected: Tier) -> None:
    chosen = choose_tier(
        DEFAULT_POLICY, "conversation", available=EVERY_TIER, steps_down=steps_down
    )
    assert chosen is expected


def test_steps_down_cannot_be_negative() -> None:
    with pytest.raises(ValueError, match="steps_down"):
        choose_tier(DEFAULT_POLICY, "answer", available=EVERY_TIER, steps_down=-1)


def test_unavailable_tier_falls_to_the_next_cheaper_one_never_up() -> None:
    # No cloud voice configured: answers drop to the local Piper (compact) voice.
    assert choose_tier(DEFAULT_POLICY, "answer", available={FORMANT, COMPACT}) is COMPACT
    # Nor Piper: espeak-ng.
    assert choose_tier(DEFAULT_POLICY, "answer", available={FORMANT}) is FORMANT
    # A notification never climbs to a dearer voice because espeak-ng is missing.
    assert choose_tier(DEFAULT_POLICY, "notification", available={EXPRESSIVE}) is EARCON
    # Nothing configured at all: the earcon needs no provider.
    assert choose_tier(DEFAULT_POLICY, "answer", available=set()) is EARCON
    # A gap in the middle is skipped.
    assert (
        choose_tier(DEFAULT_POLICY, "conversation", available={COMPACT, EARCON, FORMANT}) is COMPACT
    )
    assert choose_tier(DEFAULT_POLICY, "conversation", available={FORMANT}, steps_down=1) is FORMANT


def test_an_answer_without_its_compact_voice_keeps_the_expressive_one() -> None:
    # One voice configured, the expressive one: answers are spoken in it, not as a tone.
    assert choose_tier(DEFAULT_POLICY, "answer", available={EXPRESSIVE}) is EXPRESSIVE
    # And the formant voice beside it does not make answers robotic.
    assert choose_tier(DEFAULT_POLICY, "answer", available={EXPRESSIVE, FORMANT}) is EXPRESSIVE
    # The budget still steps down from there (the compact tier is missing: formant).
    assert (
        choose_tier(DEFAULT_POLICY, "answer", available={EXPRESSIVE, FORMANT}, steps_down=1)
        is FORMANT
    )
    # Kept to local voices, a cloud voice is no way up.
    assert (
        choose_tier(DEFAULT_POLICY, "answer", available={EXPRESSIVE, FORMANT}, local_only=True)
        is FORMANT
    )
    # Other classes still never climb.
    assert choose_tier(DEFAULT_POLICY, "alert", available={COMPACT, EXPRESSIVE}) is COMPACT
    assert choose_tier(VoicePolicy(alert=FORMANT), "alert", available={EXPRESSIVE}) is (
        EXPRESSIVE  # the alert rule: spoken, whatever it costs
    )


def test_an_alert_is_never_wordless_while_a_voice_exists() -> None:
    # The budget would take it to the earcon: it takes the cheapest voice instead.
    assert choose_tier(DEFAULT_POLICY, "alert", available=EVERY_TIER, steps_down=2) is FORMANT
    assert choose_tier(DEFAULT_POLICY, "alert", available=EVERY_TIER, steps_down=9) is FORMANT
    # Only a dear voice is configured: an alert still speaks, even above its policy tier.
    assert choose_tier(DEFAULT_POLICY, "alert", available={EXPRESSIVE}) is EXPRESSIVE
    assert choose_tier(DEFAULT_POLICY, "alert", available={EXPRESSIVE}, steps_down=5) is EXPRESSIVE
    # Within budget the policy tier is used, not "the cheapest spoken".
    assert choose_tier(DEFAULT_POLICY, "alert", available=EVERY_TIER) is COMPACT
    # No voice at all: the alert tone is all there is.
    assert choose_tier(DEFAULT_POLICY, "alert", available=set()) is EARCON
    # Offline, with a cloud voice only: the formant voice if installed, else the tone.
    offline = {EXPRESSIVE, FORMANT}
    assert choose_tier(DEFAULT_POLICY, "alert", available=offline, local_only=True) is FORMANT
    assert choose_tier(DEFAULT_POLICY, "alert", available={EXPRESSIVE}, local_only=True) is EARCON
    # Other classes are allowed to become a tone.
    assert choose_tier(DEFAULT_POLICY, "notification", available=EVERY_TIER, steps_down=1) is (
        EARCON
    )


def test_local_only_keeps_to_local_tiers() -> None:
    assert frozenset({EARCON, FORMANT}) == ALWAYS_LOCAL
    assert choose_tier(DEFAULT_POLICY, "answer", available=EVERY_TIER, local_only=True) is FORMANT
    # Piper on the LAN makes the compact tier local.
    local_piper = ALWAYS_LOCAL | {COMPACT}
    chosen = choose_tier(
        DEFAULT_POLICY, "answer", available=EVERY_TIER, local_only=True, local_tiers=local_piper
    )
    assert chosen is COMPACT
    assert (
        choose_tier(DEFAULT_POLICY, "confirmation", available=EVERY_TIER, local_only=True) is EARCON
    )
    # local_only without the formant voice installed.
    assert choose_tier(DEFAULT_POLICY, "answer", available={EXPRESSIVE}, local_only=True) is EARCON


def test_custom_policy_is_followed() -> None:
    policy = VoicePolicy(confirmation=COMPACT, answer=FORMANT)
    assert choose_tier(policy, "confirmation", available=EVERY_TIER) is COMPACT
    assert choose_tier(policy, "answer", available=EVERY_TIER) is FORMANT
    assert choose_tier(policy, "answer", available=EVERY_TIER, steps_down=1) is EARCON


def test_policy_round_trips_through_json() -> None:
    policy = VoicePolicy(confirmation=FORMANT, notification=EARCON, alert=EXPRESSIVE)
    stored = json.loads(json.dumps(policy.to_dict()))
    assert VoicePolicy.from_dict(stored) == policy
    assert all(type(value) is str for value in policy.to_dict().values())
    assert VoicePolicy.from_dict(None) == DEFAULT_POLICY
    assert VoicePolicy.from_dict({}) == DEFAULT_POLICY
    # Missing classes take their defaults; case and spaces are forgiven.
    assert VoicePolicy.from_dict({"Answer": " COMPACT "}) == VoicePolicy(answer=COMPACT)
    assert VoicePolicy(answer="formant") == VoicePolicy(answer=FORMANT)  # type: ignore[arg-type]
    assert hash(VoicePolicy()) == hash(DEFAULT_POLICY)


def test_with_tier_changes_one_class() -> None:
    changed = DEFAULT_POLICY.with_tier("notification", "compact")
    assert changed.notification is COMPACT
    assert changed.to_dict() | {"notification": "formant"} == DEFAULT_POLICY.to_dict()
    with pytest.raises(PolicyError) as err:
        DEFAULT_POLICY.with_tier("alert", "earcon")
    assert err.value.key == "alert"


@pytest.mark.parametrize(
    ("data", "key", "message"),
    [
        ({"answr": "compact"}, "answr", "not a message class"),
        ({"answer": "loud"}, "answer", "not a voice tier"),
        ({"answer": 3}, "answer", "not a voice tier"),
        ({"answer": None}, "answer", "not a voice tier"),
        ({"notification": "formant", "alert": "earcon"}, "alert", "must be spoken"),
        ({1: "formant"}, "1", "message class names"),
        (["answer"], "policy", "expected a mapping"),
    ],
)
def test_bad_policies_name_the_bad_key(data: object, key: str, message: str) -> None:
    with pytest.raises(PolicyError, match=message) as err:
        VoicePolicy.from_dict(data)  # type: ignore[arg-type]
    assert err.value.key == key
    assert str(err.value).startswith(f"{key}: ")
    assert isinstance(err.value, ValueError)


def test_an_unknown_message_class_is_a_policy_error() -> None:
    with pytest.raises(PolicyError, match="not a message class"):
        choose_tier(DEFAULT_POLICY, "gossip", available=EVERY_TIER)
    with pytest.raises(PolicyError, match="not a voice tier"):
        choose_tier(DEFAULT_POLICY, "answer", available={"loud"})  # type: ignore[arg-type]


def test_classify_turn() -> None:
    assert classify_intent() is MessageClass.CONFIRMATION
    assert classify_intent("action_done") is MessageClass.CONFIRMATION
    assert classify_intent("query_answer") is MessageClass.ANSWER
    assert classify_intent("error") is MessageClass.ANSWER
    assert classify_announcement() is MessageClass.NOTIFICATION
    assert classify_announcement("alert") is MessageClass.ALERT
    assert classify_announcement(MessageClass.CONFIRMATION) is MessageClass.CONFIRMATION
    assert classify_agent_reply() is MessageClass.ANSWER
    assert classify_agent_reply(continue_conversation=True) is MessageClass.CONVERSATION

    assert classify_turn("intent") is MessageClass.CONFIRMATION
    assert classify_turn("intent", intent_response_type="error") is MessageClass.ANSWER
    assert classify_turn("announcement", message_class="alert") is MessageClass.ALERT
    assert classify_turn("announcement") is MessageClass.NOTIFICATION
    assert classify_turn("agent") is MessageClass.ANSWER
    assert classify_turn("agent", continue_conversation=True) is MessageClass.CONVERSATION
    with pytest.raises(PolicyError) as err:
        classify_turn("announcement", message_class="shout")
    assert err.value.key == "message_class"
    with pytest.raises(PolicyError) as err:
        classify_turn("radio")  # type: ignore[arg-type]
    assert err.value.key == "source"


def test_every_class_has_a_real_earcon() -> None:
    assert set(EARCON_FOR_CLASS) == set(MessageClass)
    for message_class in MessageClass:
        assert earcon_for(message_class) in set(Earcon)
    assert earcon_for("confirmation") == Earcon.CONFIRM
    assert earcon_for("alert") == Earcon.ALERT
    assert earcon_for("confirmation", success=False) == Earcon.ERROR
