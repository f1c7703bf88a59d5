"""Text-to-speech entities: one per voice profile, speaking in the tier each message needs.

Each message has a class (the `message_class` option; else what the agent said it was; else an
answer). The profile's policy maps the class to a tier (earcon, formant, compact, expressive),
the budget may step it down or keep it local, and the tier's chain speaks: the profile's main
chain is the expressive tier, `compact_chain` and `formant_chain` the cheaper ones, and the
earcon needs no provider. See speech/tiers.py.

Streamed input (an agent still writing) is cut into sentences and each is spoken as soon as it
is complete. A provider that fails before a sentence's first audio is replaced by the next in
the chain for that sentence; one that fails mid-sentence cuts the sentence short and the stream
carries on with the next sentence.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
import hashlib
from typing import Any, Literal, override

from homeassistant.components import tts
from homeassistant.components.tts.entity import TTSAudioRequest, TTSAudioResponse
from homeassistant.config_entries import ConfigEntry, ConfigSubentry
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .budgeting import KEEPER, links_within_budget
from .budgets import Degradation
from .const import DOMAIN
from .entity import AnimaProfileEntity, async_add_per_subentry
from .hub import (
    NoProviderError,
    async_endpoint_of,
    async_get_router,
    async_timings,
    async_turn_notes,
    chain_languages,
    connection_is_local,
    connection_voices,
    loaded_connection,
    resolve_chain,
)
from .ledger import Kind
from .metering import METER, metered
from .profiles import (
    LANGUAGE,
    PROFILE_VOICE,
    TERSE_SENTENCES,
    TIER_CHAINS,
    Link,
    chain_of,
    policy_of,
)
from .providers.audio import wav_bytes
from .providers.base import AudioChunk, Capability, ProviderError, ProviderResponseError, Usage
from .routing import Route
from .speech.shaping import options_for_tier
from .speech.stream import (
    EARCON_FORMAT,
    Sentence,
    SentenceSynthesizer,
    earcon_chunk,
    speak_pcm,
    wav_stream,
)
from .speech.tiers import (
    ALWAYS_LOCAL,
    MessageClass,
    PolicyError,
    Tier,
    choose_tier,
    earcon_for,
    parse_message_class,
)
from .timing import Stopwatch
from .turns import Note

PARALLEL_UPDATES = 0
#: TTS option: the class of the message (confirmation, notification, alert, answer, conversation).
MESSAGE_CLASS = "message_class"


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add one text-to-speech entity per voice profile."""
    async_add_per_subentry(entry, async_add_entities, PROFILE_VOICE, AnimaTextToSpeechEntity)


class AnimaTextToSpeechEntity(tts.TextToSpeechEntity, AnimaProfileEntity):
    """Speaks with the first provider of the chain that answers, sentence by sentence."""

    # Home Assistant's TTS manager needs a name of the entity's own.
    _attr_has_entity_name = False

    def __init__(self, entry: ConfigEntry, subentry: ConfigSubentry) -> None:
        """Bind the entity to its voice profile."""
        super().__init__(entry, subentry, "tts")
        self._attr_name = subentry.title
        self._attr_supported_options = [tts.ATTR_VOICE, MESSAGE_CLASS]

    @property
    @override
    def default_options(self) -> dict[str, Any]:
        """What decides the audio besides the text: Home Assistant's cache keys on it."""
        tier = self._plan(MessageClass.ANSWER, None)[0]
        profile = hashlib.sha256(repr(sorted(self.profile.items())).encode()).hexdigest()[:12]
        return {"plan": f"{profile}-{tier}"}

    @property
    @override
    def supported_languages(self) -> list[str]:
        """Languages any loaded provider of the chain speaks."""
        return chain_languages(self.hass, self.chain, Capability.TTS) or [self.default_language]

    @property
    @override
    def default_language(self) -> str:
        """The profile's language, else Home Assistant's."""
        return str(self.profile.get(LANGUAGE) or self.hass.config.language)

    @callback
    @override
    def async_get_supported_voices(self, language: str) -> list[tts.Voice] | None:
        """Voices of the chain's connections that speak `language`."""
        voices = {
            voice: tts.Voice(voice, voice)
            for link in self.chain
            for voice in connection_voices(self.hass, link.connection, language)
        }
        return list(voices.values()) or None

    @override
    async def async_get_tts_audio(
        self, message: str, language: str, options: dict[str, Any]
    ) -> tts.TtsAudioType:
        """Speak a whole message as one WAV file."""
        pcm, audio_format = bytearray(), None
        note = async_turn_notes(self.hass).note_for(message)
        async for chunk in self._speak(_once(message), language, options, note):
            audio_format = audio_format or chunk.format
            pcm += chunk.audio
        return "wav", wav_bytes(bytes(pcm), audio_format or EARCON_FORMAT)

    @override
    async def async_stream_tts_audio(self, request: TTSAudioRequest) -> TTSAudioResponse:
        """Speak text while it is still being written, sentence by sentence."""
        notes = async_turn_notes(self.hass)
        message = request.message_gen
        note = notes.streaming()
        if note is None and notes.just_answered():
            # The agent already answered: the stream holds its whole text; find it by that.
            text = "".join([piece async for piece in request.message_gen])
            note, message = notes.note_for(text), _once(text)
        audio = self._speak(message, request.language, request.options, note)
        return TTSAudioResponse("wav", wav_stream(audio))

    def _plan(
        self, message_class: MessageClass, device_id: str | None
    ) -> tuple[Tier, tuple[Link, ...], Degradation]:
        """Choose the tier (and its links) for a message class, for its endpoint if known.

        The endpoint's own policy (its select) wins over the voice's, and its budget counts.
        """
        profile = self.profile
        degradation = self.hass.data[KEEPER].status(device_id).degradation
        endpoint = async_endpoint_of(self.hass, device_id)
        policy = policy_of(profile)
        if endpoint is not None and endpoint.policy is not None:
            policy = endpoint.policy
        chains = {tier: chain_of(profile, key) for tier, key in TIER_CHAINS.items()}
        usable = {
            tier
            for tier, links in chains.items()
            if any(_speaks(self.hass, link.connection) for link in links)
        }
        local = ALWAYS_LOCAL | {
            tier
            for tier, links in chains.items()
            if links and all(connection_is_local(self.hass, link.connection) for link in links)
        }
        tier = choose_tier(
            policy,
            message_class,
            available=usable,
            steps_down=degradation.tier_steps_down,
            local_only=degradation.local_only,
            local_tiers=local,
        )
        links = links_within_budget(self.hass, chains.get(tier, ()), degradation)
        return tier, links, degradation

    def _speak(
        self,
        text: AsyncIterator[str],
        language: str,
        options: dict[str, Any],
        note: Note | None = None,
    ) -> AsyncIterator[AudioChunk]:
        """Speak `text` in the tier its class gets now; an earcon needs no provider at all."""
        message_class = (note and note.message_class) or MessageClass.ANSWER
        if options.get(MESSAGE_CLASS):
            try:
                message_class = parse_message_class(options[MESSAGE_CLASS])
            except PolicyError as err:
                raise HomeAssistantError(
                    translation_domain=DOMAIN,
                    translation_key=err.translation_key,
                    translation_placeholders={"error": str(err)},
                ) from err
        tier, links, degradation = self._plan(message_class, note.device_id if note else None)
        earcon = earcon_chunk(earcon_for(message_class))
        if tier is Tier.EARCON:
            return _only(earcon)
        return speak_pcm(
            text,
            self._synthesizer(links, language, options),
            options_for_tier(tier, language=language, max_sentences=self._terse(tier)),
            lead=earcon if degradation.earcon_first else None,
        )

    def _terse(self, tier: Tier) -> int | Literal["default"]:
        """How many sentences the profile lets a cheap tier speak (its own default if unset)."""
        limit = self.profile.get(TERSE_SENTENCES)
        if tier in (Tier.FORMANT, Tier.COMPACT) and limit:
            return int(limit)
        return "default"

    def _synthesizer(
        self, links: tuple[Link, ...], language: str, options: dict[str, Any]
    ) -> SentenceSynthesizer:
        """Return what speaks one sentence through `links` as they are at this call."""
        router = async_get_router(self.hass)
        chosen_voice = options.get(tts.ATTR_VOICE)
        try:
            chain = resolve_chain(self.hass, links, Capability.TTS)
        except ProviderError:
            chain = None

        meter = self.hass.data[METER]
        spoken_by: dict[str, str | None] = {}
        timings = async_timings(self.hass)
        first_sentence = True

        async def synthesize(spoken: Sentence) -> tuple[AudioChunk, AsyncIterator[AudioChunk]]:
            sentence = spoken.text
            nonlocal first_sentence
            if chain is None:
                raise NoProviderError("No loaded connection of the chain can speak")
            stopwatch = Stopwatch()

            async def first_chunk(
                route: Route[Any],
            ) -> tuple[AudioChunk, AsyncIterator[AudioChunk]]:
                voice = route.voice
                if chosen_voice and chosen_voice in connection_voices(
                    self.hass, route.provider_id, language
                ):
                    voice = chosen_voice
                spoken_by["voice"] = voice
                stopwatch.ask()
                audio: AsyncIterator[AudioChunk] = route.provider.synthesize(
                    sentence, voice=voice, model=route.model, language=language
                )
                try:
                    first = await anext(audio)
                    stopwatch.answer()
                    return first, audio
                except StopAsyncIteration:
                    raise ProviderResponseError("The provider returned no audio") from None

            with metered(Kind.TTS, profile=self.subentry_id, defer=True) as scope:
                first, rest = await router.call(chain, first_chunk)
            if first_sentence:  # what the listener waits for: the first sentence's audio
                first_sentence = False
                timings.add(stopwatch.timing("tts", self.entity_id))

            async def counted() -> AsyncIterator[AudioChunk]:
                """Yield the rest of the sentence; record its usage once it has all played."""
                seconds = first.format.seconds(len(first.audio))
                try:
                    async for chunk in rest:
                        seconds += chunk.format.seconds(len(chunk.audio))
                        yield chunk
                finally:
                    usage = Usage(characters=len(sentence), audio_seconds=seconds)
                    meter.settle(
                        scope,
                        usage,
                        voice=spoken_by.get("voice"),
                        characters_saved=spoken.characters_saved,
                    )

            return first, counted()

        return synthesize


async def _once(text: str) -> AsyncGenerator[str]:
    yield text


async def _only(chunk: AudioChunk) -> AsyncIterator[AudioChunk]:
    yield chunk


def _speaks(hass: HomeAssistant, entry_id: str) -> bool:
    connection = loaded_connection(hass, entry_id)
    return connection is not None and Capability.TTS in connection.capabilities
