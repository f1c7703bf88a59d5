"""Profiles: what an agent, listener or voice uses, as stored in the hub's config subentries.

Pure data: no Home Assistant imports. A profile's chain lists links best first; each link names
a provider connection (its config entry id) and the model or voice to use on it. Entities read
their profile at every call, so a reconfigured chain takes effect on the next turn.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from ..providers.base import Capability
from ..providers.connection import ProviderConnection, models_for
from .speech.tiers import Tier, VoicePolicy

# Subentry types of the hub entry.
PROFILE_AGENT: Final = "agent"
PROFILE_LISTENER: Final = "listener"
PROFILE_VOICE: Final = "voice"
#: Not a profile but a subentry of the hub as well: a device bound as an endpoint.
PROFILE_ENDPOINT: Final = "endpoint"

#: The provider capability each profile type's chain needs.
CHAIN_CAPABILITY: Final[Mapping[str, Capability]] = {
    PROFILE_AGENT: Capability.CHAT,
    PROFILE_LISTENER: Capability.STT,
    PROFILE_VOICE: Capability.TTS,
}

# Keys of a profile's subentry data.
CHAIN: Final = "chain"
CONNECTION: Final = "connection"
MODEL: Final = "model"
VOICE: Final = "voice"
PROMPT: Final = "prompt"
BREVITY: Final = "brevity"
LLM_HASS_API: Final = "llm_hass_api"
TEMPERATURE: Final = "temperature"
MAX_TOKENS: Final = "max_tokens"
VISION: Final = "vision"
AI_TASK: Final = "ai_task"
LANGUAGE: Final = "language"
POLICY: Final = "policy"
#: How many sentences the cheap tiers (formant, compact) speak (empty: their defaults, 2 and 3).
TERSE_SENTENCES: Final = "terse_sentences"
#: Where a voice profile keeps the chain of each spoken tier (the earcon needs none).
TIER_CHAINS: Final[Mapping[Tier, str]] = {
    Tier.EXPRESSIVE: CHAIN,
    Tier.COMPACT: "compact_chain",
    Tier.FORMANT: "formant_chain",
}

DEFAULT_BREVITY: Final = (
    "Your answers are spoken aloud by a small speaker. Answer in one or two short sentences "
    "of plain text, without lists, markdown or emoji, unless the user asks for more detail."
)
DEFAULT_TEMPERATURE: Final = 0.6
DEFAULT_MAX_TOKENS: Final = 400
#: How many model rounds one turn may take (tool call -> result -> ...) before it stops.
MAX_TOOL_ROUNDS: Final = 10

_SEPARATOR = "|"  # between connection, model and voice in a selector value
#: The words that already say a profile's kind in its name ("Kitchen voice", "Assistant").
_KIND_WORDS: Final[Mapping[str, tuple[str, ...]]] = {
    PROFILE_AGENT: ("agent", "assistant"),
    PROFILE_LISTENER: ("listener",),
    PROFILE_VOICE: ("voice",),
}


def profile_name(kind: str, title: str) -> str:
    """Return what a profile's entities are called: Anima's, and what kind, with its name.

    "Anima Voice" for the voice "Voice", "Anima Kitchen agent" for the agent "Kitchen": what the
    pipeline editor's pickers list among other integrations' agents and voices.
    """
    said = title.casefold().split()
    name = title if said[:1] == ["anima"] else f"Anima {title}"
    words = _KIND_WORDS.get(kind, ())
    if words and not any(word in said for word in words):
        name = f"{name} {kind}"
    return name


@dataclass(frozen=True, slots=True)
class Link:
    """One place in a chain: a provider connection and the model or voice to use on it."""

    connection: str
    model: str | None = None
    voice: str | None = None

    def as_data(self) -> dict[str, str]:
        """Return the link as stored in subentry data (empty parts left out)."""
        data = {CONNECTION: self.connection}
        if self.model:
            data[MODEL] = self.model
        if self.voice:
            data[VOICE] = self.voice
        return data

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Link:
        """Read a link stored by `as_data`."""
        return cls(str(data[CONNECTION]), data.get(MODEL) or None, data.get(VOICE) or None)

    def option(self) -> str:
        """Return the link as one selector value ("<entry id>|<model>|<voice>")."""
        return _SEPARATOR.join((self.connection, self.model or "", self.voice or ""))

    @classmethod
    def from_option(cls, value: str) -> Link:
        """Read a selector value made by `option`; raises ValueError for anything else.

        Entry ids and voice names hold no separator, but model ids may (OpenRouter-style ids
        are free text): the model is everything between the first and the last.
        """
        connection, _, rest = value.partition(_SEPARATOR)
        model, separator, voice = rest.rpartition(_SEPARATOR)
        if not connection or not separator:
            raise ValueError(f"Not a chain link: {value!r}")
        return cls(connection, model or None, voice or None)


def chain_of(profile: Mapping[str, Any], key: str = CHAIN) -> tuple[Link, ...]:
    """Return the links of a profile's chain (or of a voice tier's), best first."""
    return tuple(Link.from_data(link) for link in profile.get(key) or ())


def all_links(profile: Mapping[str, Any]) -> tuple[Link, ...]:
    """Return every link a profile names: its chain and its voice tiers' chains."""
    return tuple(link for key in TIER_CHAINS.values() for link in chain_of(profile, key))


def policy_of(profile: Mapping[str, Any]) -> VoicePolicy:
    """Return a voice profile's policy (class -> tier); the default when none is stored."""
    return VoicePolicy.from_dict(profile.get(POLICY))


def profiles_using(
    profiles: Mapping[str, tuple[str, Mapping[str, Any]]], connection: str
) -> list[str]:
    """Return the titles of the profiles (id -> (title, data)) whose chain uses `connection`."""
    return sorted(
        title
        for title, data in profiles.values()
        if any(link.connection == connection for link in all_links(data))
    )


def link_choices(
    capability: Capability,
    title: str,
    entry_id: str,
    connection: ProviderConnection,
    voices: tuple[str, ...] = (),
) -> list[tuple[Link, str]]:
    """Return the links one connection offers for a chain, with the labels users read.

    `voices` are the voices of an OpenAI-compatible speech service (its preset's list).
    """
    services = connection.services
    if capability not in connection.capabilities:
        return []
    if services is None:  # OpenAI-compatible: one link per model (and voice, for speech)
        models = models_for(connection.models, capability)
        if capability is Capability.TTS:
            return [
                (Link(entry_id, model, voice), f"{title} · {model} · {voice}")
                for model in models
                for voice in voices
            ]
        return [(Link(entry_id, model), f"{title} · {model}") for model in models]
    if capability is Capability.TTS:
        return [
            (Link(entry_id, voice=voice.name), f"{title} · {voice.description or voice.name}")
            for voice in services.tts_voices
        ]
    names = services.asr_models or services.asr_programs
    return [(Link(entry_id, name), f"{title} · {name}") for name in names]
