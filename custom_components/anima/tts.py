"""Text-to-speech entities: one per voice profile, speaking through its chain.

Streamed input (an agent still writing) is cut into sentences and each is spoken as soon as it
is complete. A provider that fails before a sentence's first audio is replaced by the next in
the chain for that sentence; one that fails mid-sentence cuts the sentence short and the stream
carries on with the next sentence.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, override

from homeassistant.components import tts
from homeassistant.components.tts.entity import TTSAudioRequest, TTSAudioResponse
from homeassistant.config_entries import ConfigEntry, ConfigSubentry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import AnimaProfileEntity
from .hub import (
    NoProviderError,
    async_get_router,
    chain_languages,
    connection_voices,
    resolve_chain,
)
from .ledger import Kind
from .metering import METER, metered
from .profiles import LANGUAGE, PROFILE_VOICE
from .providers.audio import wav_bytes
from .providers.base import AudioChunk, Capability, ProviderError, ProviderResponseError, Usage
from .routing import Route
from .speech.shaping import ShapeOptions
from .speech.stream import EARCON_FORMAT, SentenceSynthesizer, speak_pcm, speak_wav

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add one text-to-speech entity per voice profile."""
    for subentry in entry.subentries.values():
        if subentry.subentry_type == PROFILE_VOICE:
            async_add_entities(
                [AnimaTextToSpeechEntity(entry, subentry)],
                config_subentry_id=subentry.subentry_id,
            )


class AnimaTextToSpeechEntity(tts.TextToSpeechEntity, AnimaProfileEntity):
    """Speaks with the first provider of the chain that answers, sentence by sentence."""

    # Home Assistant's TTS manager needs a name of the entity's own.
    _attr_has_entity_name = False

    def __init__(self, entry: ConfigEntry, subentry: ConfigSubentry) -> None:
        """Bind the entity to its voice profile."""
        super().__init__(entry, subentry, "tts")
        self._attr_name = subentry.title
        self._attr_supported_options = [tts.ATTR_VOICE]

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
        async for chunk in speak_pcm(
            _once(message), self._synthesizer(language, options), ShapeOptions(language=language)
        ):
            audio_format = audio_format or chunk.format
            pcm += chunk.audio
        if audio_format is None:
            return "wav", wav_bytes(b"", EARCON_FORMAT)
        return "wav", wav_bytes(bytes(pcm), audio_format)

    @override
    async def async_stream_tts_audio(self, request: TTSAudioRequest) -> TTSAudioResponse:
        """Speak text while it is still being written, sentence by sentence."""
        synthesize = self._synthesizer(request.language, request.options)
        options = ShapeOptions(language=request.language)
        return TTSAudioResponse("wav", speak_wav(request.message_gen, synthesize, options))

    def _synthesizer(self, language: str, options: dict[str, Any]) -> SentenceSynthesizer:
        """Return what speaks one sentence through the chain as it is at this call."""
        router = async_get_router(self.hass)
        chosen_voice = options.get(tts.ATTR_VOICE)
        try:
            chain = resolve_chain(self.hass, self.chain, Capability.TTS)
        except ProviderError:
            chain = None

        meter = self.hass.data[METER]
        spoken_by: dict[str, str | None] = {}

        async def synthesize(sentence: str) -> tuple[AudioChunk, AsyncIterator[AudioChunk]]:
            if chain is None:
                raise NoProviderError("No loaded connection of the chain can speak")

            async def first_chunk(
                route: Route[Any],
            ) -> tuple[AudioChunk, AsyncIterator[AudioChunk]]:
                voice = route.voice
                if chosen_voice and chosen_voice in connection_voices(
                    self.hass, route.provider_id, language
                ):
                    voice = chosen_voice
                spoken_by["voice"] = voice
                audio: AsyncIterator[AudioChunk] = route.provider.synthesize(
                    sentence, voice=voice, model=route.model, language=language
                )
                try:
                    return await anext(audio), audio
                except StopAsyncIteration:
                    raise ProviderResponseError("The provider returned no audio") from None

            with metered(Kind.TTS, profile=self.subentry_id, defer=True) as scope:
                first, rest = await router.call(chain, first_chunk)

            async def counted() -> AsyncIterator[AudioChunk]:
                """Yield the rest of the sentence; record its usage once it has all played."""
                seconds = first.format.seconds(len(first.audio))
                try:
                    async for chunk in rest:
                        seconds += chunk.format.seconds(len(chunk.audio))
                        yield chunk
                finally:
                    usage = Usage(characters=len(sentence), audio_seconds=seconds)
                    meter.settle(scope, usage, voice=spoken_by.get("voice"))

            return first, counted()

        return synthesize


async def _once(text: str) -> AsyncIterator[str]:
    yield text
