"""Coordination on Anima's own satellite, inside the test `hass`: it listens on the hub's request
through its endpoint service (Home Assistant's Wyoming satellites cannot be asked to).

The satellite is real and adopted by Home Assistant's Wyoming integration; its endpoint service
is real (paired, on loopback) and plays earcons on the satellite's playback. Whisper hears, the
fake cloud LLM answers, Piper speaks. What the satellite hears when the hub has it listen is the
one part given here: the service's `listen` returns the next of `Kitchen.answers` (on a board,
the satellite streams its microphone to Home Assistant and returns the transcript: that runs
end to end in tests/e2e/test_coordination.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
import pytest
import pytest_asyncio
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator, WebSocketGenerator

from anima_satellite.endpoint_service import ServiceSettings, serve as serve_endpoint
from anima_satellite.satellite import SatelliteSettings, play
from custom_components.anima.const import DOMAIN
from custom_components.anima.core.endpoints import SERVICE, SERVICE_KEY, VOICE
from custom_components.anima.core.ledger import Kind
from custom_components.anima.core.profiles import PROFILE_VOICE
from custom_components.anima.core.speech.earcons import earcon_pcm
from custom_components.anima.protocol import new_key, parse_key
from custom_components.anima.runtime.data import AnimaData
from scripts.hassctl import free_port
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fixtures.speech_servers import SpeechServer
from tests.fixtures.spoken import spoken
from tests.integration.satellites import (
    adopted,
    anima_with_pipeline,
    bind,
    satellite_of,
)
from tests.integration.test_satellite_actions import TEA
from tests.integration.voice_device import Microphone, voice_device


@dataclass
class Kitchen:
    """The Kitchen endpoint: Anima's satellite with its endpoint service, and the person there."""

    hub: MockConfigEntry
    device: str
    satellite: str
    settings: SatelliteSettings
    #: What the satellite hears each time it is asked to listen, in turn.
    answers: list[str] = field(default_factory=list)
    #: Whenever it was asked: its state, how many replies it had played, and `respond`.
    asked: list[tuple[str, int, bool]] = field(default_factory=list)


@pytest_asyncio.fixture
async def kitchen(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    hass_ws_client: WebSocketGenerator,
    tmp_path: Path,
    openai_server: FakeOpenAIServer,
    piper_server: SpeechServer,
    whisper_server: SpeechServer,
) -> AsyncIterator[Kitchen]:
    hub = await anima_with_pipeline(
        hass, hass_ws_client, openai_server, piper_server, whisper_server
    )
    client = await hass_client()  # announcements are fetched from Home Assistant's own URL
    await hass.config.async_update(internal_url=str(client.make_url("")).rstrip("/"))
    settings = SatelliteSettings(  # nobody speaks to it unasked: the wake word never comes
        name="Kitchen", mic_file=spoken(tmp_path, "unused"), speak_when=asyncio.Event(), played=[]
    )
    key = new_key()  # as `anima-satellite --print-key` shows it
    place: list[Kitchen] = []

    async def heard(respond: bool) -> str:
        there = place[0]
        state = hass.states.get(there.satellite)
        there.asked.append((state.state if state else "", len(settings.played or ()), respond))
        return there.answers.pop(0)

    service_port = free_port()
    service = ServiceSettings("Kitchen", parse_key(key), play=partial(play, settings), listen=heard)
    serving = hass.async_create_background_task(
        serve_endpoint(f"tcp://127.0.0.1:{service_port}", service), "endpoint service"
    )
    voice = next(s.subentry_id for s in hub.subentries.values() if s.subentry_type == PROFILE_VOICE)
    try:
        async with adopted(hass, settings, wait_played=False) as device:
            bind(
                hass,
                hub,
                "Kitchen",
                device,
                **{SERVICE: f"127.0.0.1:{service_port}", SERVICE_KEY: key, VOICE: voice},
            )
            await hass.async_block_till_done()
            place.append(Kitchen(hub, device, satellite_of(hass, device), settings))
            yield place[0]
    finally:
        serving.cancel()


async def _act(hass: HomeAssistant, action: str, **data: Any) -> dict[str, Any]:
    response = await hass.services.async_call(
        DOMAIN, action, data, blocking=True, return_response=True
    )
    return dict(response or {})


async def _said(hass: HomeAssistant, kitchen: Kitchen, *texts: str) -> None:
    """Anima's voice synthesized `texts` for the kitchen: its ledger books their characters."""
    wanted = [len(text) for text in texts]
    async with asyncio.timeout(30):
        while True:
            records = AnimaData.of(hass).meter.ledger.records()
            booked = [r.characters for r in records if r.kind is Kind.TTS]
            if booked == wanted and all(r.endpoint == kitchen.device for r in records[-1:]):
                return
            await asyncio.sleep(0.1)


async def _until_played(kitchen: Kitchen, count: int) -> None:
    async with asyncio.timeout(90):
        while len(kitchen.settings.played or ()) < count:
            await asyncio.sleep(0.1)


async def test_ask_endpoint_says_the_question_then_listens_for_the_answer(
    hass: HomeAssistant, kitchen: Kitchen, whisper_server: SpeechServer
) -> None:
    kitchen.answers.append("Yes please.")
    reply = await _act(
        hass, "ask_endpoint", device_id=kitchen.device, question="Do you want tea?", answers=TEA
    )
    assert reply == {"endpoint": "Kitchen", "sentence": "Yes please.", "id": "yes", "slots": {}}
    assert len(kitchen.settings.played or []) == 1
    await _said(hass, kitchen, "Do you want tea?")  # in the endpoint's voice, billed there
    # It listened (for the answer only) once the question had been said.
    assert kitchen.asked == [("idle", 1, False)]

    kitchen.answers.append("")  # a service that heard nothing, yet answered
    with pytest.raises(HomeAssistantError, match="I didn't hear an answer at Kitchen"):
        await _act(hass, "ask_endpoint", device_id=kitchen.device, question="Tea?")


async def test_a_handoff_says_its_message_then_listens_for_a_turn(
    hass: HomeAssistant, kitchen: Kitchen, whisper_server: SpeechServer
) -> None:
    kitchen.answers.append("I would like a drink.")
    reply = await _act(hass, "handoff", device_id=kitchen.device, message="What can I get you?")
    assert reply == {"endpoint": "Kitchen"}
    assert len(kitchen.settings.played or []) == 1
    await _said(hass, kitchen, "What can I get you?")
    assert kitchen.asked == [("idle", 1, True)]


async def test_an_announcement_with_an_earcon_plays_it_instead_of_the_chime(
    hass: HomeAssistant, kitchen: Kitchen, whisper_server: SpeechServer
) -> None:
    reply = await _act(  # an answer: spoken (a notification here would be an earcon only)
        hass,
        "announce",
        device_id=kitchen.device,
        message="Dinner is ready.",
        message_class="answer",
        earcon="alert",
    )
    assert reply == {"spoken_on": ["Kitchen"]}
    await _until_played(kitchen, 2)
    earcon, _ = kitchen.settings.played or []
    assert earcon[3] == earcon_pcm("alert")  # first the earcon, then the message
    await _said(hass, kitchen, "Dinner is ready.")


async def test_a_satellite_still_speaking_is_asked_to_listen_only_once_it_is_idle(
    hass: HomeAssistant, kitchen: Kitchen, whisper_server: SpeechServer
) -> None:
    kitchen.answers.append("I would like a drink.")
    hass.states.async_set(kitchen.satellite, "responding")  # still saying a reply of its own
    handing = asyncio.ensure_future(_act(hass, "handoff", device_id=kitchen.device))
    await asyncio.sleep(1)
    assert kitchen.asked == []  # not while it speaks: it would hear itself
    hass.states.async_set(kitchen.satellite, "idle")
    assert await asyncio.wait_for(handing, 30) == {"endpoint": "Kitchen"}
    async with asyncio.timeout(30):
        while not kitchen.asked:
            await asyncio.sleep(0.05)
    assert kitchen.asked == [("idle", 0, True)]


async def test_an_announcement_with_an_earcon_is_made_on_all_or_none(
    hass: HomeAssistant, kitchen: Kitchen, whisper_server: SpeechServer
) -> None:
    """The kitchen plays earcons (its endpoint service); the office (a voice device as
    ESPHome's, without a play_earcon action) cannot: nobody hears half an announcement."""
    office_mic = Microphone()
    async with voice_device(hass, "Office", office_mic) as office:
        subentries = kitchen.hub.subentries.values()
        voice = next(s.subentry_id for s in subentries if s.subentry_type == PROFILE_VOICE)
        bind(hass, kitchen.hub, "Office", office, **{VOICE: voice})
        await hass.async_block_till_done()
        with pytest.raises(HomeAssistantError) as refused:
            await _act(
                hass,
                "announce",
                device_id=[kitchen.device, office],
                message="Dinner is ready.",
                message_class="answer",
                earcon="alert",
            )
        assert refused.value.translation_key == "no_earcon_player"
        assert str(refused.value).startswith("Office cannot play earcons on request")
        assert kitchen.settings.played == []  # not the kitchen's earcon, nor its message
        assert office_mic.announced == []
