"""Speech-to-text entities: one per listener profile, transcribing through its chain."""

from __future__ import annotations

from collections.abc import AsyncIterable
from typing import Any, override

from homeassistant.components import stt
from homeassistant.config_entries import ConfigEntry, ConfigSubentry
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import LOGGER
from .entity import AnimaProfileEntity, async_add_per_subentry
from .hub import async_get_router, async_timings, chain_languages, resolve_chain
from .ledger import Kind
from .metering import METER, metered
from .profiles import LANGUAGE, PROFILE_LISTENER
from .providers.audio import ReplayableStream
from .providers.base import AudioFormat, Capability, ProviderError, Transcript
from .routing import Route
from .timing import Stopwatch

PARALLEL_UPDATES = 0
#: What satellites and Home Assistant's pipeline send: 16 kHz, 16-bit, mono PCM.
PIPELINE_FORMAT = AudioFormat(rate=16000, width=2, channels=1)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add one speech-to-text entity per listener profile."""
    async_add_per_subentry(entry, async_add_entities, PROFILE_LISTENER, AnimaSpeechToTextEntity)


class AnimaSpeechToTextEntity(stt.SpeechToTextEntity, AnimaProfileEntity):
    """Transcribes with the first provider of the chain that answers.

    The audio is kept while it streams, so a fallback provider hears the whole utterance.
    """

    def __init__(self, entry: ConfigEntry, subentry: ConfigSubentry) -> None:
        """Bind the entity to its listener profile."""
        super().__init__(entry, subentry, "stt")

    @property
    @override
    def supported_languages(self) -> list[str]:
        """Languages any loaded provider of the chain handles."""
        return chain_languages(self.hass, self.chain, Capability.STT) or [self.hass.config.language]

    @property
    @override
    def supported_formats(self) -> list[stt.AudioFormats]:
        """PCM as Home Assistant's pipeline sends it."""
        return [stt.AudioFormats.WAV]

    @property
    @override
    def supported_codecs(self) -> list[stt.AudioCodecs]:
        """Uncompressed PCM."""
        return [stt.AudioCodecs.PCM]

    @property
    @override
    def supported_bit_rates(self) -> list[stt.AudioBitRates]:
        """16-bit samples."""
        return [stt.AudioBitRates.BITRATE_16]

    @property
    @override
    def supported_sample_rates(self) -> list[stt.AudioSampleRates]:
        """16 kHz."""
        return [stt.AudioSampleRates.SAMPLERATE_16000]

    @property
    @override
    def supported_channels(self) -> list[stt.AudioChannels]:
        """Mono."""
        return [stt.AudioChannels.CHANNEL_MONO]

    @override
    async def async_process_audio_stream(
        self, metadata: stt.SpeechMetadata, stream: AsyncIterable[bytes]
    ) -> stt.SpeechResult:
        """Transcribe the stream; an error result (not an exception) when nobody could."""
        audio = ReplayableStream(stream)
        language = metadata.language or self.profile.get(LANGUAGE)

        stopwatch = Stopwatch()

        async def transcribe(route: Route[Any]) -> Transcript:
            stopwatch.ask()
            transcript: Transcript = await route.provider.transcribe(
                audio.read(), PIPELINE_FORMAT, model=route.model, language=language
            )
            stopwatch.answer()
            return transcript

        try:
            chain = resolve_chain(self.hass, self.chain, Capability.STT)
            with metered(Kind.STT, profile=self.subentry_id, defer=True) as scope:
                transcript = await async_get_router(self.hass).call(chain, transcribe)
            self.hass.data[METER].settle(scope, transcript.usage)
            async_timings(self.hass).add(stopwatch.timing("stt", self.entity_id))
        except ProviderError as err:
            LOGGER.warning("%s could not transcribe: %s", self.entity_id, err)
            return stt.SpeechResult(None, stt.SpeechResultState.ERROR)
        return stt.SpeechResult(transcript.text, stt.SpeechResultState.SUCCESS)
