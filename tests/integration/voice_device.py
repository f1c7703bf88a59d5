"""A voice device that starts conversations, as ESPHome's voice satellites do, in the test `hass`.

There is no ESPHome voice device or emulator here, so a small test integration provides one:
an entity on Home Assistant's own `AssistSatelliteEntity` that behaves as esphome's
(homeassistant/components/esphome/assist_satellite.py) does: it offers announcements and
starting conversations; it plays what it is given (here: keeps it); after a conversation's start
message has played it runs the pipeline from speech-to-text with what its microphone hears: the
`answer` (16 kHz mono PCM) spoken, or silence while nobody answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from homeassistant.components.assist_pipeline import PipelineEvent, PipelineEventType
from homeassistant.components.assist_satellite import (
    AssistSatelliteAnnouncement,
    AssistSatelliteConfiguration,
    AssistSatelliteEntity,
    AssistSatelliteEntityFeature,
)
from homeassistant.config_entries import ConfigEntry, ConfigFlow
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    MockModule,
    MockPlatform,
    mock_config_flow,
    mock_integration,
    mock_platform,
)

from custom_components.anima.providers.audio import convert
from custom_components.anima.providers.base import AudioFormat
from custom_components.anima.providers.wyoming import WyomingClient
from tests.fixtures.speech_servers import SpeechServer

DOMAIN = "voice_device"
MIC = AudioFormat(16000)  # what a satellite streams: 16 kHz, 16-bit, mono
CHUNK = MIC.rate * MIC.width // 10  # 100 ms, as a satellite sends it
#: After the answer, the silence that ends it for Home Assistant's voice activity detection.
TRAILING_SILENCE_S = 1.5


@dataclass
class Microphone:
    """What the device plays and hears; `fail`: it has gone away (every call raises)."""

    answer: bytes | None = None
    fail: BaseException | None = None
    announced: list[AssistSatelliteAnnouncement] = field(default_factory=list)
    started: list[AssistSatelliteAnnouncement] = field(default_factory=list)
    events: list[PipelineEventType] = field(default_factory=list)


class VoiceDevice(AssistSatelliteEntity):
    """A voice satellite that announces and starts conversations (as ESPHome's)."""

    _attr_has_entity_name = True
    _attr_name = None
    _attr_supported_features = (
        AssistSatelliteEntityFeature.ANNOUNCE | AssistSatelliteEntityFeature.START_CONVERSATION
    )

    def __init__(self, name: str, mic: Microphone) -> None:
        """One device named `name`, with its microphone."""
        self.mic = mic
        self._attr_unique_id = f"{name}-satellite"
        self._attr_device_info = DeviceInfo(identifiers={(DOMAIN, name)}, name=name)

    def async_get_configuration(self) -> AssistSatelliteConfiguration:
        """No wake words of its own to configure."""
        return AssistSatelliteConfiguration(
            available_wake_words=[], active_wake_words=[], max_active_wake_words=1
        )

    async def async_set_configuration(self, config: AssistSatelliteConfiguration) -> None:
        """Nothing to configure."""

    def on_pipeline_event(self, event: PipelineEvent) -> None:
        """Keep what the pipeline did; its reply has played when the run ends."""
        self.mic.events.append(event.type)
        if event.type is PipelineEventType.RUN_END:
            self.tts_response_finished()

    async def async_announce(self, announcement: AssistSatelliteAnnouncement) -> None:
        """Play an announcement (blocks until played, as esphome's does)."""
        if self.mic.fail is not None:
            raise self.mic.fail
        self.mic.announced.append(announcement)

    async def async_start_conversation(
        self, start_announcement: AssistSatelliteAnnouncement
    ) -> None:
        """Play the start message; then the device listens, as esphome's does after it."""
        if self.mic.fail is not None:
            raise self.mic.fail
        self.mic.started.append(start_announcement)
        assert self.platform.config_entry is not None
        self.platform.config_entry.async_create_background_task(
            self.hass, self._listen(), f"{self.entity_id} listens"
        )

    async def _listen(self) -> None:
        """Stream the microphone into a pipeline run; stop streaming when it ends."""
        microphone = self._heard()
        try:
            await self.async_accept_pipeline_from_satellite(microphone)
        finally:
            await microphone.aclose()  # not left for the garbage collector's finalizer

    async def _heard(self) -> AsyncGenerator[bytes]:
        """The microphone: the answer then silence, or silence until nobody listens."""
        pcm = self.mic.answer
        if pcm is None:
            while True:
                await asyncio.sleep(0.1)
                yield bytes(CHUNK)
        for start in range(0, len(pcm), CHUNK):
            yield pcm[start : start + CHUNK]
        for _ in range(int(TRAILING_SILENCE_S * 10)):
            yield bytes(CHUNK)


class _Flow(ConfigFlow, domain=DOMAIN):
    """No steps: Home Assistant sets up entries only of integrations with a flow."""


@asynccontextmanager
async def voice_device(hass: HomeAssistant, name: str, mic: Microphone) -> AsyncIterator[str]:
    """The test integration with one device, set up while inside; its device id."""

    async def setup_entry(hass: HomeAssistant, entry: ConfigEntry) -> bool:
        await hass.config_entries.async_forward_entry_setups(entry, ["assist_satellite"])
        return True

    async def unload_entry(hass: HomeAssistant, entry: ConfigEntry) -> bool:
        return await hass.config_entries.async_unload_platforms(entry, ["assist_satellite"])

    async def setup_platform(
        hass: HomeAssistant, entry: ConfigEntry, add: AddConfigEntryEntitiesCallback
    ) -> None:
        add([VoiceDevice(name, mic)])

    module = MockModule(DOMAIN, async_setup_entry=setup_entry, async_unload_entry=unload_entry)
    mock_integration(hass, module)
    mock_platform(
        hass, f"{DOMAIN}.assist_satellite", MockPlatform(async_setup_entry=setup_platform)
    )
    mock_platform(hass, f"{DOMAIN}.config_flow")
    with mock_config_flow(DOMAIN, _Flow):
        entry = MockConfigEntry(domain=DOMAIN, title=name)
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        (satellite,) = er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
        assert satellite.device_id is not None
        try:
            yield satellite.device_id
        finally:
            await hass.config_entries.async_unload(entry.entry_id)


async def piper_says(piper: SpeechServer, text: str) -> bytes:
    """`text` spoken by Piper, as a microphone hears it (16 kHz mono PCM)."""
    client = WyomingClient(piper.host, piper.port, timeout=30)
    pcm = b""
    async for chunk in client.synthesize(text):
        pcm += convert(chunk.audio, chunk.format, MIC)
    return pcm
