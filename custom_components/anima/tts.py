"""Text-to-speech entities: one per voice profile, speaking in the tier each message needs.

The tier, its chain and the sentence-by-sentence speech are runtime/speaking.py's; this entity
says what it speaks and finds, for each message, what the agent noted about it (its class and
endpoint: Home Assistant hands a voice only text, see core/turn_notes.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
import hashlib
from typing import Any, Final, override

from homeassistant.components import tts
from homeassistant.components.tts.entity import TTSAudioRequest, TTSAudioResponse
from homeassistant.config_entries import ConfigSubentry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import LOGGER, MESSAGE_CLASS, TTS_ENDPOINT
from .core.profiles import LANGUAGE, PROFILE_VOICE, profile_name
from .core.speech.stream import EARCON_FORMAT, Output, prepended, wav_stream
from .core.speech.tiers import MessageClass
from .core.turn_notes import Note
from .entity import AnimaProfileEntity, async_add_per_subentry
from .providers.audio import wav_bytes
from .providers.base import MP3, PCM, AudioChunk, Capability
from .runtime.connections import chain_languages
from .runtime.hub import HubConfigEntry
from .runtime.speaking import once, plan_speech, speak, voices_of

PARALLEL_UPDATES = 0
WAV: Final = "wav"
RAW: Final = "raw"
#: What a pipeline may ask of the audio (Wyoming satellites: WAV, 22,050 Hz, mono, 16-bit).
PREFERRED_OPTIONS: Final = (
    tts.ATTR_PREFERRED_FORMAT,
    tts.ATTR_PREFERRED_SAMPLE_RATE,
    tts.ATTR_PREFERRED_SAMPLE_CHANNELS,
    tts.ATTR_PREFERRED_SAMPLE_BYTES,
)
_LAYOUT_BOUNDS: Final = {
    tts.ATTR_PREFERRED_SAMPLE_RATE: (4000, 192_000),
    tts.ATTR_PREFERRED_SAMPLE_BYTES: (1, 4),
    tts.ATTR_PREFERRED_SAMPLE_CHANNELS: (1, 8),
}


async def async_setup_entry(
    hass: HomeAssistant,
    entry: HubConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add one text-to-speech entity per voice profile."""
    async_add_per_subentry(entry, async_add_entities, PROFILE_VOICE, AnimaTextToSpeechEntity)


class AnimaTextToSpeechEntity(tts.TextToSpeechEntity, AnimaProfileEntity):
    """Speaks with the first provider of the chain that answers, sentence by sentence."""

    # Home Assistant's TTS manager needs a name of the entity's own.
    _attr_has_entity_name = False

    def __init__(self, entry: HubConfigEntry, subentry: ConfigSubentry) -> None:
        """Bind the entity to its voice profile."""
        super().__init__(entry, subentry, "tts")
        self._attr_name = profile_name(PROFILE_VOICE, subentry.title)
        # The preferred format options are honoured here, so Home Assistant need not convert.
        self._attr_supported_options = [
            tts.ATTR_VOICE,
            MESSAGE_CLASS,
            TTS_ENDPOINT,
            *PREFERRED_OPTIONS,
        ]

    @property
    @override
    def default_options(self) -> dict[str, Any]:
        """What decides the audio besides the text: Home Assistant's cache keys on it."""
        tier = plan_speech(self.hass, self.profile, MessageClass.ANSWER, None).tier
        profile = hashlib.sha256(repr(sorted(self.profile.items())).encode()).hexdigest()[:12]
        options: dict[str, Any] = {"plan": f"{profile}-{tier}"}
        if voices := voices_of(self.hass, self.profile, self.default_language):
            options[tts.ATTR_VOICE] = voices[0]  # the chain's own voice
        return options

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
        """Return the voices the profile can speak in `language`, its own voice first."""
        return [
            tts.Voice(voice, voice) for voice in voices_of(self.hass, self.profile, language)
        ] or None

    @override
    async def async_get_tts_audio(
        self, message: str, language: str, options: dict[str, Any]
    ) -> tts.TtsAudioType:
        """Speak a whole message as one file in the format asked for (see `output_of`)."""
        audio, audio_format = bytearray(), None
        note = self.anima.turn_notes.note_for(message)
        async for chunk in self._speak(once(message), language, options, note):
            audio_format = audio_format or chunk.format
            audio += chunk.audio
        audio_format = audio_format or EARCON_FORMAT
        if audio_format.codec == MP3:
            return MP3, bytes(audio)
        if _container(options) == RAW:
            return RAW, bytes(audio)
        return WAV, wav_bytes(bytes(audio), audio_format)

    @override
    async def async_stream_tts_audio(self, request: TTSAudioRequest) -> TTSAudioResponse:
        """Speak text while it is still being written, sentence by sentence."""
        notes = self.anima.turn_notes
        message = request.message_gen
        note = notes.streaming()
        if note is None and notes.just_answered():
            # The agent already answered: the stream holds its whole text; find it by that.
            text = "".join([piece async for piece in request.message_gen])
            note, message = notes.note_for(text), once(text)
        audio = aiter(self._speak(message, request.language, request.options, note))
        # The first audio tells what the stream is: MP3 a voice spoke, or PCM.
        first = await anext(audio, None)
        chunks = prepended(first, audio)
        if first is not None and first.format.codec == MP3:
            return TTSAudioResponse(MP3, (chunk.audio async for chunk in chunks))
        if _container(request.options) == RAW:
            return TTSAudioResponse(RAW, (chunk.audio async for chunk in chunks))
        return TTSAudioResponse(WAV, wav_stream(chunks))

    def _speak(
        self, text: AsyncIterator[str], language: str, options: dict[str, Any], note: Note | None
    ) -> AsyncIterator[AudioChunk]:
        return speak(
            self.hass,
            self.entity_id,
            self.subentry_id,
            self.profile,
            text,
            language,
            options,
            note,
            output_of(options),
        )


def output_of(options: Mapping[str, Any]) -> Output:
    """Return the audio Home Assistant asks for: a pipeline's (a satellite's) preferred options.

    MP3 (Home Assistant's default) as the voice speaks it, when no layout is asked; else PCM
    in the layout asked for, a field not asked or not plausible left to the voice (with a
    warning), wrapped as WAV (or raw) for Home Assistant to pass on or encode.
    """
    layout = {
        key: _plausible(options, key, low, high) for key, (low, high) in _LAYOUT_BOUNDS.items()
    }
    if str(options.get(tts.ATTR_PREFERRED_FORMAT) or MP3) == MP3 and not any(layout.values()):
        return Output(MP3)
    return Output(
        PCM,
        rate=layout[tts.ATTR_PREFERRED_SAMPLE_RATE],
        width=layout[tts.ATTR_PREFERRED_SAMPLE_BYTES],
        channels=layout[tts.ATTR_PREFERRED_SAMPLE_CHANNELS],
    )


def _plausible(options: Mapping[str, Any], key: str, low: int, high: int) -> int | None:
    value = options.get(key)
    if value is None:
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = low - 1
    if not low <= number <= high:
        LOGGER.warning("Ignoring %s %r: the voice's own is used", key, str(value)[:20])
        return None
    return number


def _container(options: Mapping[str, Any]) -> str:
    """RAW when headerless PCM is asked for, else WAV (which Home Assistant may encode)."""
    return RAW if options.get(tts.ATTR_PREFERRED_FORMAT) == RAW else WAV
