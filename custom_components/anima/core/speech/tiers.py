"""Voice tiers: which voice a message gets, so the TTS bill buys only what a listener needs.

Four tiers, cheapest first: an `earcon` (a tone, no words, no provider, no cost), the `formant`
voice (espeak-ng on a satellite or the Home Assistant host: robotic, free), a `compact` neural
voice (e.g. local Piper or a cheap cloud voice) and an `expressive` neural voice (the best cloud
voice configured). A `VoicePolicy` gives each class of message its tier; `choose_tier` then
applies the budget (steps down), the "local only" switch and what is actually configured.

Pure: no Home Assistant imports. Policies serialise to plain dicts for the `select` entities and
the config entry.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any, Literal, Self


class Tier(StrEnum):
    """A voice tier; tiers compare by cost (`Tier.EARCON < Tier.FORMANT`), not alphabetically."""

    EARCON = "earcon"
    FORMANT = "formant"
    COMPACT = "compact"
    EXPRESSIVE = "expressive"

    @property
    def rank(self) -> int:
        """Position from the cheapest (0, earcon) to the most expensive (3, expressive)."""
        return _RANK[self]

    @property
    def spoken(self) -> bool:
        """Whether this tier speaks words (every tier but the earcon)."""
        return self is not Tier.EARCON

    # A StrEnum would otherwise order like its strings ("compact" < "earcon"). A plain string
    # compares as the tier it names; any other string is a TypeError rather than a silent
    # alphabetical answer.
    def __lt__(self, other: object) -> bool:
        rank = _rank_of(other)
        return NotImplemented if rank is None else self.rank < rank

    def __le__(self, other: object) -> bool:
        rank = _rank_of(other)
        return NotImplemented if rank is None else self.rank <= rank

    def __gt__(self, other: object) -> bool:
        rank = _rank_of(other)
        return NotImplemented if rank is None else self.rank > rank

    def __ge__(self, other: object) -> bool:
        rank = _rank_of(other)
        return NotImplemented if rank is None else self.rank >= rank


def _rank_of(other: object) -> int | None:
    if isinstance(other, Tier):
        return other.rank
    if isinstance(other, str):
        try:
            return Tier(other).rank
        except ValueError:
            raise TypeError(f"cannot compare a voice tier with {other!r}") from None
    return None


_RANK = {tier: rank for rank, tier in enumerate(Tier)}
#: Every tier, cheapest first.
TIERS: tuple[Tier, ...] = tuple(Tier)
#: Tiers that never leave the house whatever is configured: the earcon is made by numpy, the
#: formant voice by espeak-ng. A compact voice is local only when it is Piper on the LAN; callers
#: who know that pass it in `local_tiers`.
ALWAYS_LOCAL: frozenset[Tier] = frozenset({Tier.EARCON, Tier.FORMANT})


class MessageClass(StrEnum):
    """What a spoken message is for; the policy maps each to a tier."""

    CONFIRMATION = "confirmation"  # "Turned on the kitchen light."
    NOTIFICATION = "notification"  # "The washing machine is done."
    ALERT = "alert"  # "Smoke detected in the kitchen."
    ANSWER = "answer"  # an agent's answer to a question
    CONVERSATION = "conversation"  # an answer that expects a reply (a conversation goes on)


class PolicyError(ValueError):
    """A voice policy (or a value meant for one) is invalid; `key` names the offending key."""

    translation_key = "invalid_voice_policy"

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


def parse_tier(value: object, *, key: str = "tier") -> Tier:
    """Read a tier from a string (or a `Tier`); `PolicyError` naming `key` otherwise."""
    if isinstance(value, Tier):
        return value
    if isinstance(value, str):
        try:
            return Tier(value.strip().lower())
        except ValueError:
            pass
    allowed = ", ".join(TIERS)
    raise PolicyError(key, f"{value!r} is not a voice tier (one of: {allowed})")


def parse_message_class(value: object, *, key: str = "message_class") -> MessageClass:
    """Read a message class from a string (or a `MessageClass`); `PolicyError` otherwise."""
    if isinstance(value, MessageClass):
        return value
    if isinstance(value, str):
        try:
            return MessageClass(value.strip().lower())
        except ValueError:
            pass
    allowed = ", ".join(MessageClass)
    raise PolicyError(key, f"{value!r} is not a message class (one of: {allowed})")


@dataclass(frozen=True, slots=True)
class VoicePolicy:
    """The tier each message class asks for before budget and availability are applied.

    The field names are the `MessageClass` values, so `to_dict()` is what a config entry stores
    and a `select` entity per class shows. Strings are accepted and turned into `Tier`s.
    """

    confirmation: Tier = Tier.EARCON
    notification: Tier = Tier.FORMANT
    alert: Tier = Tier.COMPACT
    # A short factual answer is understood as well in a compact voice (Piper, a cloud's
    # standard voice); a conversation keeps the expressive one. Without a compact voice
    # configured, answers stay expressive (see `choose_tier`).
    answer: Tier = Tier.COMPACT
    conversation: Tier = Tier.EXPRESSIVE

    def __post_init__(self) -> None:
        for item in fields(self):
            object.__setattr__(self, item.name, parse_tier(getattr(self, item.name), key=item.name))
        if not self.alert.spoken:
            # An alert must be understood (see `choose_tier`): a policy cannot ask for a tone.
            raise PolicyError(
                MessageClass.ALERT, "an alert must be spoken; choose formant or above"
            )

    def tier_for(self, message_class: MessageClass | str) -> Tier:
        """Return the tier this policy asks for `message_class`."""
        tier: Tier = getattr(self, parse_message_class(message_class))
        return tier

    def with_tier(self, message_class: MessageClass | str, tier: Tier | str) -> VoicePolicy:
        """Return a copy with one class changed (what a `select` entity does)."""
        key = parse_message_class(message_class)
        data = self.to_dict()
        data[key] = parse_tier(tier, key=key)
        return VoicePolicy.from_dict(data)

    def to_dict(self) -> dict[str, str]:
        """Plain, JSON-ready form: `{"confirmation": "earcon", ...}`, every class present."""
        return {item.name: str(getattr(self, item.name)) for item in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Self:
        """Read `to_dict()` output; missing classes take their defaults.

        Raises `PolicyError` naming the first unknown key or bad value (keys are checked in
        sorted order so the message is stable).
        """
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise PolicyError("policy", f"expected a mapping, got {type(data).__name__}")
        values: dict[str, Tier] = {}
        for key in sorted(data, key=str):
            if not isinstance(key, str):
                raise PolicyError(str(key), "keys must be message class names")
            message_class = parse_message_class(key, key=key)
            values[message_class.value] = parse_tier(data[key], key=key)
        return cls(**values)


DEFAULT_POLICY = VoicePolicy()
#: Named policies a voice's `select` entity offers (automations switch them, e.g. quiet hours).
POLICY_PRESETS: Mapping[str, VoicePolicy] = {
    "standard": DEFAULT_POLICY,
    "quiet": VoicePolicy(
        confirmation=Tier.EARCON,
        notification=Tier.EARCON,
        alert=Tier.FORMANT,
        answer=Tier.COMPACT,
        conversation=Tier.COMPACT,
    ),
    "economy": VoicePolicy(
        confirmation=Tier.EARCON,
        notification=Tier.FORMANT,
        alert=Tier.FORMANT,
        answer=Tier.COMPACT,
        conversation=Tier.COMPACT,
    ),
    "full": VoicePolicy(
        confirmation=Tier.COMPACT,
        notification=Tier.COMPACT,
        alert=Tier.EXPRESSIVE,
        answer=Tier.EXPRESSIVE,
        conversation=Tier.EXPRESSIVE,
    ),
}


#: Classes whose words are the point: a missing tier moves them up, not down (`choose_tier`).
_UNDERSTOOD: frozenset[MessageClass] = frozenset({MessageClass.ANSWER, MessageClass.CONVERSATION})


def choose_tier(
    policy: VoicePolicy,
    message_class: MessageClass | str,
    *,
    available: Collection[Tier],
    steps_down: int = 0,
    local_only: bool = False,
    local_tiers: Collection[Tier] = ALWAYS_LOCAL,
) -> Tier:
    """Return the tier to speak `message_class` in now.

    - Start from the policy's tier and go `steps_down` tiers cheaper (the budget's verdict: 0
      while within budget, more as it runs out), never below the earcon.
    - Use that tier if it is `available` (configured and healthy); otherwise the next cheaper one
      that is. Never a dearer one: a missing cloud voice must not make a notification cost more.
      The earcon is always available: it needs no provider.
    - Answers and conversation: what is missing never makes them robotic or wordless. When the
      policy's tier has no voice configured, the next dearer configured tier is the starting
      point (a house with one expressive voice hears its answers in it); the budget's steps
      and `local_only` still apply from there.
    - `local_only` (privacy mode, or the internet is down) keeps to `local_tiers`.
    - Alerts: an alert ("smoke in the kitchen", "the freezer door is open") exists to be
      understood, and a tone only says that *something* happened. So when the steps above would
      end at the earcon but any spoken tier is usable, the alert takes the cheapest spoken tier,
      even above its policy tier. The budget can make an alert robotic, never wordless.

    `steps_down` below zero is an error (`ValueError`); the budget only ever makes things cheaper.
    """
    wanted = policy.tier_for(message_class)
    if steps_down < 0:
        raise ValueError(f"steps_down must be >= 0, got {steps_down}")
    usable = {parse_tier(tier, key="available") for tier in available} | {Tier.EARCON}
    if local_only:
        usable &= {parse_tier(tier, key="local_tiers") for tier in local_tiers} | {Tier.EARCON}
    kind = parse_message_class(message_class)
    if kind in _UNDERSTOOD and wanted not in usable:
        wanted = min((tier for tier in usable if tier > wanted), default=wanted)
    ceiling = TIERS[max(wanted.rank - steps_down, 0)]
    chosen = max(tier for tier in usable if tier <= ceiling)
    if chosen is Tier.EARCON and kind is MessageClass.ALERT:
        spoken = [tier for tier in usable if tier.spoken]
        if spoken:
            return min(spoken)
    return chosen


# --- classifying a turn -----------------------------------------------------------------------

TurnSource = Literal["intent", "announcement", "agent"]
#: Home Assistant's `IntentResponseType` values, as strings (no HA import here).
INTENT_ACTION_DONE = "action_done"
INTENT_QUERY_ANSWER = "query_answer"
INTENT_ERROR = "error"


def classify_intent(response_type: str | None = INTENT_ACTION_DONE) -> MessageClass:
    """Classify a turn that Home Assistant's intents handled.

    A done action ("Turned on the light") is a confirmation; a query answer ("It is 21 degrees")
    or an error ("Sorry, there is no device called ...") carries information the user must hear,
    so it is an answer.
    """
    if response_type in (None, INTENT_ACTION_DONE):
        return MessageClass.CONFIRMATION
    return MessageClass.ANSWER


def classify_announcement(message_class: MessageClass | str | None = None) -> MessageClass:
    """Classify an announcement: it carries its own class; a plain one is a notification."""
    if message_class is None or message_class == "":
        return MessageClass.NOTIFICATION
    return parse_message_class(message_class)


def classify_agent_reply(*, continue_conversation: bool = False) -> MessageClass:
    """Classify an agent's reply: an answer, or conversation when it waits for a reply."""
    return MessageClass.CONVERSATION if continue_conversation else MessageClass.ANSWER


def classify_turn(
    source: TurnSource,
    *,
    intent_response_type: str | None = INTENT_ACTION_DONE,
    message_class: MessageClass | str | None = None,
    continue_conversation: bool = False,
) -> MessageClass:
    """Classify one turn by where its text came from (dispatches to the helpers above)."""
    if source == "intent":
        return classify_intent(intent_response_type)
    if source == "announcement":
        return classify_announcement(message_class)
    if source == "agent":
        return classify_agent_reply(continue_conversation=continue_conversation)
    raise PolicyError("source", f"{source!r} is not one of: intent, announcement, agent")


#: The earcon (a name in `speech.earcons.Earcon`) that stands for a message of each class when
#: the earcon tier is chosen.
EARCON_FOR_CLASS: Mapping[MessageClass, str] = {
    MessageClass.CONFIRMATION: "confirm",
    MessageClass.NOTIFICATION: "notify",
    MessageClass.ALERT: "alert",
    MessageClass.ANSWER: "done",
    MessageClass.CONVERSATION: "listening",
}


def earcon_for(message_class: MessageClass | str, *, success: bool = True) -> str:
    """Return the earcon for a message of `message_class`; "error" for any failed turn."""
    if not success:
        return "error"
    return EARCON_FOR_CLASS[parse_message_class(message_class)]
