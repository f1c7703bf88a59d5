"""Anima's satellite adopted by Home Assistant's own Wyoming integration, in the test `hass`.

Shared by the tests that speak to real satellites: Anima as the preferred pipeline (Whisper
listens, the fake cloud LLM answers, Piper speaks), a satellite adopted the normal way, and
Whisper transcribing what a satellite played.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
import re
from types import MappingProxyType
from typing import Any

from homeassistant.config_entries import ConfigSubentry
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from anima_satellite.satellite import SatelliteSettings, serve
from custom_components.anima.core.endpoints import DEVICE, SATELLITE
from custom_components.anima.core.profiles import (
    PROFILE_AGENT,
    PROFILE_ENDPOINT,
    PROFILE_LISTENER,
    PROFILE_VOICE,
    TIER_CHAINS,
    Link,
)
from custom_components.anima.core.speech.tiers import Tier
from custom_components.anima.providers.base import AudioFormat
from custom_components.anima.providers.wyoming import WyomingClient
from scripts.hassctl import free_port
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fixtures.speech_servers import SpeechServer
from tests.integration.anima_setup import add_hub, add_openai, add_wyoming, anima_pipeline, profile


def words(text: str) -> str:
    """The words of a text, lower case, without punctuation."""
    return " ".join(re.findall(r"[a-z']+", text.lower()))


async def anima_with_pipeline(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    openai_server: FakeOpenAIServer,
    piper_server: SpeechServer,
    whisper_server: SpeechServer,
    *,
    preset: str = "custom",
    formant: SpeechServer | None = None,
) -> MockConfigEntry:
    """Anima (Whisper listens, the fake cloud LLM answers, Piper speaks) as the preferred
    pipeline; returns the hub. `preset`: the cloud's (`openai` prices its calls); `formant`:
    the voice's formant tier (notifications are spoken in it; without one, an earcon)."""
    whisper = await add_wyoming(hass, whisper_server, "Whisper")
    piper = await add_wyoming(hass, piper_server, "Piper")
    cloud = await add_openai(hass, openai_server, "Cloud", preset=preset)
    tiers = {}
    if formant is not None:
        robot = await add_wyoming(hass, formant, "Formant")
        tiers[TIER_CHAINS[Tier.FORMANT]] = [Link(robot.entry_id, voice="en-us").as_data()]
    hub = await add_hub(
        hass,
        profile(PROFILE_LISTENER, "Listener", [Link(whisper.entry_id)]),
        profile(PROFILE_AGENT, "Assistant", [Link(cloud.entry_id, "gpt-4.1-mini")]),
        profile(PROFILE_VOICE, "Voice", [Link(piper.entry_id, voice="en_US-joe-medium")], **tiers),
    )
    assert await async_setup_component(hass, "assist_pipeline", {})
    # Before the websocket starts the HTTP server: it registers views of its own.
    assert await async_setup_component(hass, "assist_satellite", {})
    ws = await hass_ws_client(hass)
    await ws.send_json_auto_id(anima_pipeline())
    pipeline = (await ws.receive_json())["result"]["id"]
    await ws.send_json_auto_id(
        {"type": "assist_pipeline/pipeline/set_preferred", "pipeline_id": pipeline}
    )
    assert (await ws.receive_json())["success"]
    return hub


@asynccontextmanager
async def adopted(
    hass: HomeAssistant, settings: SatelliteSettings, *, wait_played: bool = True
) -> AsyncIterator[str]:
    """Run the satellite and adopt it the normal way (a Wyoming entry); its device id.

    On leaving, waits until the satellite has played something (unless `wait_played` is off).
    """
    port = free_port()
    satellite = hass.async_create_background_task(
        serve(f"tcp://127.0.0.1:{port}", settings), "anima satellite"
    )
    await asyncio.sleep(0.2)
    wyoming = MockConfigEntry(domain="wyoming", data={"host": "127.0.0.1", "port": port})
    wyoming.add_to_hass(hass)
    try:
        assert await hass.config_entries.async_setup(wyoming.entry_id)
        await hass.async_block_till_done()
        (adopted,) = [
            e
            for e in er.async_entries_for_config_entry(er.async_get(hass), wyoming.entry_id)
            if e.domain == "assist_satellite"
        ]
        assert adopted.device_id is not None
        yield adopted.device_id
        async with asyncio.timeout(90):
            while wait_played and not settings.played:
                await asyncio.sleep(0.1)
    finally:
        await hass.config_entries.async_unload(wyoming.entry_id)
        satellite.cancel()


async def transcribe(whisper: SpeechServer, played: tuple[int, int, int, bytes]) -> str:
    """What Whisper hears in audio a satellite played."""
    rate, width, channels, pcm = played
    client = WyomingClient(whisper.host, whisper.port, timeout=30)

    async def chunks() -> AsyncIterator[bytes]:
        yield pcm

    return words(
        (await client.transcribe(chunks(), AudioFormat(rate, width, channels), language="en")).text
    )


def satellite_of(hass: HomeAssistant, device_id: str) -> str:
    """The assist_satellite entity of an adopted satellite's device."""
    (entity,) = [
        e.entity_id
        for e in er.async_entries_for_device(er.async_get(hass), device_id)
        if e.domain == "assist_satellite"
    ]
    return entity


def bind(
    hass: HomeAssistant, hub: MockConfigEntry, name: str, device_id: str, **data: Any
) -> ConfigSubentry:
    """Bind an adopted satellite's device as an endpoint (with its satellite entity)."""
    subentry = ConfigSubentry(
        data=MappingProxyType(
            {DEVICE: device_id, SATELLITE: satellite_of(hass, device_id), **data}
        ),
        subentry_type=PROFILE_ENDPOINT,
        title=name,
        unique_id=None,
    )
    hass.config_entries.async_add_subentry(hub, subentry)
    return subentry
