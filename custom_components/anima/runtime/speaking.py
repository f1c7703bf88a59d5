"""Speaking one message: the tier its class gets now, and each sentence through the pipeline.

Each message has a class (the `message_class` option; else what the agent noted for it; else an
answer). The voice's policy (or its endpoint's own) maps the class to a tier (earcon, formant,
compact, expressive), the budget may step it down or keep it local, and the tier's chain speaks:
the profile's main chain is the expressive tier, `compact_chain` and `formant_chain` the cheaper
ones, and the earcon needs no provider. See core/speech/tiers.py.

Streamed input (an agent still writing) is cut into sentences and each is spoken as soon as it
is complete. A provider that fails before a sentence's first audio is replaced by the next in
the chain for that sentence; one that fails mid-sentence cuts the sentence short and the stream
carries on with the next sentence.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from homeassistant.components import tts
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError

from ..const import DOMAIN, MESSAGE_CLASS, TTS_ENDPOINT
from ..core.budgets import Degradation
from ..core.ledger import Kind
from ..core.profiles import (
    TERSE_SENTENCES,
    TIER_CHAINS,
    Link,
    all_links,
    chain_of,
    policy_of,
)
from ..core.routing import Route
from ..core.speech.shaping import options_for_tier
from ..core.speech.stream import Sentence, SentenceSynthesizer, earcon_chunk, speak_pcm
from ..core.speech.tiers import (
    ALWAYS_LOCAL,
    MessageClass,
    PolicyError,
    Tier,
    choose_tier,
    earcon_for,
    parse_message_class,
)
from ..core.turn_notes import Note
from ..providers.base import AudioChunk, Capability, ProviderResponseError, Usage
from .calls import CallSpec, ProviderCall
from .connections import can, connection_is_local, connection_voices, loaded_connection
from .data import AnimaData
from .hub import async_endpoint_of
from .speech_cache import CACHED_CLASSES, SpeechCache, SpokenSentence, replay, speech_cache


@dataclass(frozen=True, slots=True)
class SpeechPlan:
    """How a message is spoken now: its tier, the tier's links, and the budget's verdict."""

    tier: Tier
    links: tuple[Link, ...]
    degradation: Degradation


def plan_speech(
    hass: HomeAssistant,
    profile: Mapping[str, Any],
    message_class: MessageClass,
    device_id: str | None,
) -> SpeechPlan:
    """Choose the tier (and its links) for a message class, for its endpoint if known.

    The endpoint's own policy (its select) wins over the voice's, and its budget counts.
    """
    degradation = AnimaData.of(hass).calls.degradation(device_id)
    endpoint = async_endpoint_of(hass, device_id)
    policy = policy_of(profile)
    if endpoint is not None and endpoint.policy is not None:
        policy = endpoint.policy
    chains = {tier: chain_of(profile, key) for tier, key in TIER_CHAINS.items()}
    usable = {
        tier
        for tier, links in chains.items()
        if any(can(hass, link.connection, Capability.TTS) for link in links)
    }
    local = ALWAYS_LOCAL | {
        tier
        for tier, links in chains.items()
        if links and all(connection_is_local(hass, link.connection) for link in links)
    }
    tier = choose_tier(
        policy,
        message_class,
        available=usable,
        steps_down=degradation.tier_steps_down,
        local_only=degradation.local_only,
        local_tiers=local,
    )
    return SpeechPlan(tier, chains.get(tier, ()), degradation)


def voices_of(hass: HomeAssistant, profile: Mapping[str, Any], language: str) -> list[str]:
    """Return the voices a voice profile can speak in `language`, its main voice first.

    Each link's own voice, and the voices of an OpenAI-compatible speech service (its preset's
    list). Not the rest of a Wyoming server's list: Piper lists voices it would first have to
    download, which a house without internet cannot.
    """
    voices: dict[str, None] = {}
    for link in all_links(profile):
        offered = connection_voices(hass, link.connection, language)
        if link.voice in offered:
            voices[link.voice] = None
        if _lists_its_voices(hass, link.connection):
            voices |= dict.fromkeys(offered)
    return list(voices)


def _lists_its_voices(hass: HomeAssistant, entry_id: str) -> bool:
    """Whether a connection's voice list is what it speaks (an API's, not a Wyoming server's)."""
    connection = loaded_connection(hass, entry_id)
    return connection is not None and connection.services is None


def _voice_for(
    hass: HomeAssistant, profile: Mapping[str, Any], route: Route[Any], chosen: str | None
) -> str | None:
    """Return the voice a route speaks: the one asked for if the route can speak it, else its own.

    A voice no provider of the route can speak (a pipeline's old choice, say) is never sent:
    the chain's own voice speaks instead of an error tone.
    """
    if not chosen or chosen == route.voice:
        return route.voice
    own = {link.voice for link in all_links(profile) if link.connection == route.provider_id}
    if chosen in own or (
        _lists_its_voices(hass, route.provider_id)
        and chosen in connection_voices(hass, route.provider_id)
    ):
        return chosen
    return route.voice


def message_class_of(options: Mapping[str, Any], note: Note | None) -> MessageClass:
    """Return a message's class: the option's, else the agent's note's, else an answer."""
    if not options.get(MESSAGE_CLASS):
        return (note and note.message_class) or MessageClass.ANSWER
    try:
        return parse_message_class(options[MESSAGE_CLASS])
    except PolicyError as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key=err.translation_key,
            translation_placeholders={"error": str(err)},
        ) from err


def speak(
    hass: HomeAssistant,
    entity_id: str,
    profile_id: str,
    profile: Mapping[str, Any],
    text: AsyncIterator[str],
    language: str,
    options: Mapping[str, Any],
    note: Note | None = None,
) -> AsyncIterator[AudioChunk]:
    """Speak `text` in the tier its class gets now; an earcon needs no provider at all."""
    message_class = message_class_of(options, note)
    device_id = options.get(TTS_ENDPOINT) or (note.device_id if note else None)
    plan = plan_speech(hass, profile, message_class, device_id)
    earcon = earcon_chunk(earcon_for(message_class))
    turns = AnimaData.of(hass).turns  # the turn of the device ends with this audio
    if plan.tier is Tier.EARCON:
        return turns.speech(device_id, plan.tier, _only(earcon))
    spec = CallSpec(
        Kind.TTS,
        plan.links,
        profile=profile_id,
        endpoint=device_id,
        stage="tts",
        entity_id=entity_id,
    )
    cache = speech_cache(hass) if message_class in CACHED_CLASSES else None
    voice = options.get(tts.ATTR_VOICE)
    audio = speak_pcm(
        text,
        _synthesizer(hass, spec, plan.degradation, profile, language, voice, cache),
        options_for_tier(plan.tier, language=language, max_sentences=_terse(profile, plan.tier)),
        lead=earcon if plan.degradation.earcon_first else None,
    )
    return turns.speech(device_id, plan.tier, audio)


def _terse(profile: Mapping[str, Any], tier: Tier) -> int | Literal["default"]:
    """How many sentences the profile lets a cheap tier speak (its own default if unset)."""
    limit = profile.get(TERSE_SENTENCES)
    if tier in (Tier.FORMANT, Tier.COMPACT) and limit:
        return int(limit)
    return "default"


def _synthesizer(
    hass: HomeAssistant,
    spec: CallSpec,
    degradation: Degradation,
    profile: Mapping[str, Any],
    language: str,
    chosen_voice: str | None,
    cache: SpeechCache | None = None,
) -> SentenceSynthesizer:
    """Return what speaks one sentence through the message's call (each sentence booked alone).

    The call begins with the first sentence, so the stage's time runs from a sentence ready to
    its first audio, not from the start of the agent's answer. With a `cache`, a sentence it
    holds plays from there (booked as a hit), and one spoken to its end is kept.
    """
    calls = AnimaData.of(hass).calls
    begun: list[ProviderCall] = []

    async def synthesize(spoken: Sentence) -> tuple[AudioChunk, AsyncIterator[AudioChunk]]:
        sentence = spoken.text
        key = None if cache is None else cache.key(spec.links, chosen_voice, language, sentence)
        if cache is not None and key is not None and (kept := cache.get(key)) is not None:
            calls.meter.record_cache_hit(spec.profile, spec.endpoint, kept)
            return kept.chunks[0], replay(kept.chunks[1:])
        if not begun:
            begun.append(calls.begin(spec, degradation=degradation))
        call = begun[0]
        voices: dict[str, str | None] = {}
        routes: list[Route[Any]] = []

        async def first_chunk(route: Route[Any]) -> tuple[AudioChunk, AsyncIterator[AudioChunk]]:
            voice = voices["spoken"] = _voice_for(hass, profile, route, chosen_voice)
            routes.append(route)
            audio: AsyncIterator[AudioChunk] = route.provider.synthesize(
                sentence, voice=voice, model=route.model, language=language
            )
            try:
                return await anext(audio), audio
            except StopAsyncIteration:
                raise ProviderResponseError("The provider returned no audio") from None

        (first, rest), settle = await call.open(first_chunk)
        call.time()  # what the listener waits for: the first sentence's audio

        async def counted() -> AsyncIterator[AudioChunk]:
            """Yield the rest of the sentence; book its usage once it has all played."""
            seconds = first.format.seconds(len(first.audio))
            try:
                async for chunk in rest:
                    seconds += chunk.format.seconds(len(chunk.audio))
                    yield chunk
            finally:
                settle(
                    Usage(characters=len(sentence), audio_seconds=seconds),
                    voice=voices.get("spoken"),
                    characters_saved=spoken.characters_saved,
                )

        if cache is None or key is None:
            return first, counted()
        route, voice = routes[-1], voices.get("spoken")

        def keep(audio: tuple[AudioChunk, ...]) -> SpokenSentence:
            return SpokenSentence(audio, route.provider_id, route.model, voice, len(sentence))

        return first, cache.keeping(key, first, counted(), keep)

    return synthesize


async def once(text: str) -> AsyncGenerator[str]:
    """Yield a whole message as a text stream of one piece."""
    yield text


async def _only(chunk: AudioChunk) -> AsyncIterator[AudioChunk]:
    yield chunk
