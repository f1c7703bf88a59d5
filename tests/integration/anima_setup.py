"""Set up Anima the way a user would end up with it: connections, then a hub with profiles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from homeassistant.components import stt
from homeassistant.config_entries import ConfigEntryState, ConfigSubentryData
from homeassistant.const import (
    CONF_AUTHENTICATION,
    CONF_FILE_PATH,
    CONF_NAME,
    CONF_PASSWORD,
    CONF_VERIFY_SSL,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er, llm
from PIL import Image
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.anima.const import (
    API_KEY,
    BASE_URL,
    DOMAIN,
    HOST,
    KIND,
    KIND_HUB,
    KIND_OPENAI,
    KIND_WYOMING,
    PORT,
    PRESET,
)
from custom_components.anima.core.endpoints import DEVICE
from custom_components.anima.core.profiles import (
    CHAIN,
    LLM_HASS_API,
    PROFILE_AGENT,
    PROFILE_ENDPOINT,
    Link,
)
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fixtures.speech_servers import SpeechServer

#: What a satellite's audio is, for a listener: 16 kHz, 16-bit, mono PCM.
SPEECH_METADATA = stt.SpeechMetadata(
    language="en",
    format=stt.AudioFormats.WAV,
    codec=stt.AudioCodecs.PCM,
    bit_rate=stt.AudioBitRates.BITRATE_16,
    sample_rate=stt.AudioSampleRates.SAMPLERATE_16000,
    channel=stt.AudioChannels.CHANNEL_MONO,
)


async def porch_camera(hass: HomeAssistant, tmp_path: Path) -> Path:
    """camera.porch: Home Assistant's real local_file camera showing a 1280x960 picture."""
    image = tmp_path / "porch.jpg"
    Image.new("RGB", (1280, 960), (200, 40, 40)).save(image, "JPEG")
    entry = MockConfigEntry(
        domain="local_file", options={CONF_NAME: "Porch", CONF_FILE_PATH: str(image)}
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return image


async def mjpeg_camera(hass: HomeAssistant, url: str, title: str = "Porch") -> str:
    """Home Assistant's MJPEG IP camera taking its snapshots from `url`; its entity id."""
    entry = MockConfigEntry(
        domain="mjpeg",
        title=title,
        options={
            CONF_AUTHENTICATION: "basic",
            CONF_PASSWORD: "",
            CONF_VERIFY_SSL: True,
            "mjpeg_url": url,
            "still_image_url": url,
        },
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    return f"camera.{title.lower()}"


async def add_openai(
    hass: HomeAssistant, server: FakeOpenAIServer, title: str, preset: str = "custom"
) -> MockConfigEntry:
    """Add and load a connection to a fake OpenAI-compatible service."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=title,
        unique_id=server.base_url,
        data={
            KIND: KIND_OPENAI,
            PRESET: preset,
            BASE_URL: server.base_url,
            API_KEY: server.api_key,
        },
    )
    return await _load(hass, entry)


async def add_wyoming(hass: HomeAssistant, server: SpeechServer, title: str) -> MockConfigEntry:
    """Add and load a connection to a real Wyoming server."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=title,
        unique_id=f"wyoming://{server.host}:{server.port}",
        data={KIND: KIND_WYOMING, HOST: server.host, PORT: server.port},
    )
    return await _load(hass, entry)


def assist_agent(*connections: str, model: str = "gpt-4.1-mini") -> ConfigSubentryData:
    """The agent `Assistant` with the Assist API, on `model` of each connection in turn."""
    links = [Link(connection, model) for connection in connections]
    return profile(PROFILE_AGENT, "Assistant", links, **{LLM_HASS_API: [llm.LLM_API_ASSIST]})


def profile(kind: str, title: str, links: list[Link], **options: Any) -> ConfigSubentryData:
    """One profile subentry of the hub."""
    return ConfigSubentryData(
        subentry_type=kind,
        title=title,
        unique_id=None,
        data={CHAIN: [link.as_data() for link in links], **options},
    )


async def add_hub(hass: HomeAssistant, *profiles: ConfigSubentryData) -> MockConfigEntry:
    """Add and load the hub with its profiles."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Anima",
        unique_id=KIND_HUB,
        data={KIND: KIND_HUB},
        subentries_data=list(profiles),
    )
    return await _load(hass, entry)


async def _load(hass: HomeAssistant, entry: MockConfigEntry) -> MockConfigEntry:
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    return entry


def satellite_device(hass: HomeAssistant, name: str, port: int = 10700) -> str:
    """A device as Home Assistant's Wyoming integration adopts a satellite (at 127.0.0.1:port),
    with its assist satellite entity; its id."""
    wyoming = MockConfigEntry(
        domain="wyoming", title=name, data={"host": "127.0.0.1", "port": port}
    )
    wyoming.add_to_hass(hass)
    device = dr.async_get(hass).async_get_or_create(
        config_entry_id=wyoming.entry_id, identifiers={("wyoming", name)}, name=name
    )
    er.async_get(hass).async_get_or_create(
        "assist_satellite",
        "wyoming",
        f"{name}-satellite",
        config_entry=wyoming,
        device_id=device.id,
    )
    return device.id


def endpoint(name: str, device_id: str, **options: Any) -> ConfigSubentryData:
    """One endpoint subentry of the hub."""
    return ConfigSubentryData(
        subentry_type=PROFILE_ENDPOINT,
        title=name,
        unique_id=None,
        data={DEVICE: device_id, **options},
    )


def anima_pipeline(name: str = "Anima") -> dict[str, Any]:
    """The websocket command that creates a pipeline of Anima's listener, agent and voice."""
    return {
        "type": "assist_pipeline/pipeline/create",
        "name": name,
        "language": "en",
        "conversation_engine": "conversation.anima_assistant",
        "conversation_language": "en",
        "stt_engine": "stt.anima_listener",
        "stt_language": "en",
        "tts_engine": "tts.anima_voice",
        "tts_language": "en",
        "tts_voice": None,
        "wake_word_entity": None,
        "wake_word_id": None,
    }
