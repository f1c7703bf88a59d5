"""Speech-to-text entities: one per listener profile, transcribing through its chain."""

from __future__ import annotations

from collections.abc import AsyncIterable
from typing import Any, override

from homeassistant.components import stt
from homeassistant.config_entries import ConfigSubentry
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import LOGGER
from .core.ledger import Kind
from .core.profiles import LANGUAGE, PROFILE_LISTENER
from .core.routing import Route
from .entity import AnimaProfileEntity, async_add_per_subentry
from .providers.audio import ReplayableStream, holds_sound
from .providers.base import AudioFormat, Capability, ProviderError, Transcript
from .runtime.calls import CallSpec
from .runtime.connections import chain_languages
from .runtime.hub import HubConfigEntry, async_listening_endpoint

PARALLEL_UPDATES = 0
#: What satellites and Home Assistant's pipeline send: 16 kHz, 16-bit, mono PCM.
PIPELINE_FORMAT = AudioFormat(rate=16000, width=2, channels=1)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: HubConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add one speech-to-text entity per listener profile."""
    async_add_per_subentry(entry, async_add_entities, PROFILE_LISTENER, AnimaSpeechToTextEntity)


class AnimaSpeechToTextEntity(stt.SpeechToTextEntity, AnimaProfileEntity):
    """Transcribes with the first provider of the chain that answers.

    The audio is kept while it streams, so a fallback provider hears the whole utterance.
    """

    def __init__(self, entry: HubConfigEntry, subentry: ConfigSubentry) -> None:
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
        """Transcribe the stream; an error result (not an exception) when nobody could.

        The endpoint whose satellite is listening (Home Assistant names none) is the one
        whose budget applies and whom the ledger books.
        """
        audio = ReplayableStream(stream)
        language = metadata.language or self.profile.get(LANGUAGE)

        async def transcribe(route: Route[Any]) -> Transcript:
            transcript: Transcript = await route.provider.transcribe(
                audio.read(), PIPELINE_FORMAT, model=route.model, language=language
            )
            return transcript

        spec = CallSpec(
            Kind.STT,
            self.chain,
            profile=self.subentry_id,
            endpoint=async_listening_endpoint(self.hass),
            stage="stt",
            entity_id=self.entity_id,
        )
        try:
            with self.anima.calls.begin(spec) as call:
                transcript = await call.run(transcribe, usage=lambda done: done.usage)
        except ProviderError as err:
            LOGGER.warning("%s could not transcribe: %s", self.entity_id, err)
            return stt.SpeechResult(None, stt.SpeechResultState.ERROR)
        if not holds_sound(audio.kept, PIPELINE_FORMAT):  # what a model hears there is made up
            LOGGER.debug("%s heard only silence", self.entity_id)
            return stt.SpeechResult("", stt.SpeechResultState.SUCCESS)
        return stt.SpeechResult(transcript.text, stt.SpeechResultState.SUCCESS)
