"""The blueprints in blueprints/automation/anima/, loaded and run by Home Assistant's own
blueprint machinery: a doorbell looks and announces, a finished appliance is announced where
someone is, a budget warning notifies and steps the voice down.

The announcements (notifications: the formant voice says them) play on Anima's real satellite
(adopted by the Wyoming integration), whose audio Home Assistant fetches with ffmpeg from its
own HTTP server, and Whisper hears them.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
import shutil
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import area_registry as ar, entity_registry as er
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator, WebSocketGenerator

from anima_satellite.satellite import SatelliteSettings
from anima_satellite.wake import LocalWakeWord
from custom_components.anima.const import CURRENCY, DOMAIN, HOUSE_DAILY
from custom_components.anima.core.endpoints import AREA, VOICE
from custom_components.anima.core.profiles import PROFILE_ENDPOINT, PROFILE_VOICE
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.fixtures.speech_servers import SpeechServer
from tests.fixtures.spoken import spoken
from tests.integration.anima_setup import porch_camera
from tests.integration.satellites import adopted, anima_with_pipeline, bind, transcribe
from tests.integration.typed import anima_device, converse, typed_kitchen

BLUEPRINTS = Path(__file__).parents[2] / "blueprints" / "automation" / "anima"
SWITCHES = {"doorbell": None, "washer": None, "hall_motion": None}
#: binary_sensor.doorbell, .washer, .hall_motion: on while their input_boolean is.
SENSORS = [
    {
        "binary_sensor": [
            {
                "name": name,
                "unique_id": name,  # registered, so the motion sensor can be put in an area
                "state": f"{{{{ is_state('input_boolean.{name}', 'on') }}}}",
            }
        ]
    }
    for name in SWITCHES
]


async def _blueprints(hass: HomeAssistant, tmp_path: Path, *automations: dict[str, Any]) -> None:
    """Install the repository's blueprints as a user would, and automations that use them."""
    hass.config.config_dir = str(tmp_path)
    shutil.copytree(BLUEPRINTS, tmp_path / "blueprints" / "automation" / "anima")
    config = {"automation": [{"use_blueprint": automation} for automation in automations]}
    assert await async_setup_component(hass, "automation", config)
    await hass.async_block_till_done()
    loaded = [s for s in hass.states.async_all("automation") if s.state == "on"]
    assert len(loaded) == len(automations)  # each one's inputs fit its blueprint


async def _turn_on(hass: HomeAssistant, name: str, on: bool = True) -> None:
    service = "turn_on" if on else "turn_off"
    await hass.services.async_call(
        "input_boolean", service, {"entity_id": f"input_boolean.{name}"}, blocking=True
    )
    await hass.async_block_till_done()


async def test_the_doorbell_and_the_washer_are_announced_in_the_hall(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    hass_ws_client: WebSocketGenerator,
    tmp_path: Path,
    openai_server: FakeOpenAIServer,
    piper_server: SpeechServer,
    whisper_server: SpeechServer,
    formant_server: SpeechServer,
) -> None:
    await porch_camera(hass, tmp_path)
    hub = await anima_with_pipeline(
        hass, hass_ws_client, openai_server, piper_server, whisper_server, formant=formant_server
    )
    client = await hass_client()  # announcements are fetched from Home Assistant's own URL
    await hass.config.async_update(internal_url=str(client.make_url("")).rstrip("/"))
    assert await async_setup_component(hass, "input_boolean", {"input_boolean": SWITCHES})
    assert await async_setup_component(hass, "template", {"template": SENSORS})
    await hass.async_block_till_done()
    hall = ar.async_get(hass).async_create("Hall")
    er.async_get(hass).async_update_entity("binary_sensor.hall_motion", area_id=hall.id)
    voice = next(s.subentry_id for s in hub.subentries.values() if s.subentry_type == PROFILE_VOICE)
    quiet = asyncio.Event()
    settings = SatelliteSettings(
        name="Hall",
        mic_file=spoken(tmp_path, "unused"),
        speak_when=quiet,  # it waits for its wake word, which never comes
        wake_word=LocalWakeWord.load("okay_nabu"),
        played=[],
    )
    async with adopted(hass, settings, wait_played=False) as device_id:
        bind(hass, hub, "Hall", device_id, **{AREA: hall.id, VOICE: voice})
        await hass.async_block_till_done()
        await _blueprints(
            hass,
            tmp_path,
            {
                "path": "anima/look_and_announce.yaml",
                "input": {
                    "sensor": "binary_sensor.doorbell",
                    "camera": "camera.porch",
                    "areas": [hall.id],
                },
            },
            {
                "path": "anima/appliance_finished.yaml",
                "input": {
                    "appliance": "binary_sensor.washer",
                    "message": "The washing machine is done.",
                    "presence": ["binary_sensor.hall_motion"],
                },
            },
        )
        openai_server.reply(Reply.text("Someone is at the front door."))
        await _turn_on(hass, "doorbell")
        await _played(settings, 1)
        (frame,) = openai_server.requests[-1].images  # it looked through the porch camera
        assert frame.width > 0
        assert "front door" in await transcribe(whisper_server, settings.played[0])

        await _turn_on(hass, "hall_motion")  # someone is in the hall
        await _turn_on(hass, "washer")
        await _turn_on(hass, "washer", on=False)
        await _played(settings, 2)
        assert "washing machine is done" in await transcribe(whisper_server, settings.played[1])


async def _played(settings: SatelliteSettings, count: int) -> None:
    async with asyncio.timeout(90):
        while len(settings.played) < count:
            await asyncio.sleep(0.1)


async def test_a_budget_warning_notifies_and_steps_the_voice_down(
    hass: HomeAssistant, tmp_path: Path, openai_server: FakeOpenAIServer
) -> None:
    assert await async_setup_component(hass, "persistent_notification", {})  # always, in HA
    hub, kitchen, _ = await typed_kitchen(hass, openai_server)
    (endpoint_id,) = [
        s.subentry_id for s in hub.subentries.values() if s.subentry_type == PROFILE_ENDPOINT
    ]
    policy = er.async_get(hass).async_get_entity_id("select", DOMAIN, f"{endpoint_id}-voice_policy")
    assert policy is not None
    await _blueprints(
        hass,
        tmp_path,
        {
            "path": "anima/budget_warning.yaml",
            "input": {
                "budget": anima_device(hass, hub.entry_id),
                "policies": [policy],
                "policy": "economy",
            },
        },
    )
    hass.config_entries.async_update_entry(hub, options={CURRENCY: "USD", HOUSE_DAILY: 2.2})
    await hass.async_block_till_done()
    openai_server.reply(Reply.text("Long answer.", usage=(5_000_000, 0)))  # USD 2 of 2.20
    await converse(hass, "Tell me everything.", kitchen)
    state = hass.states.get(policy)
    assert state is not None
    assert state.state == "economy"
    notifications = [
        n
        for n in hass.data["persistent_notification"].values()
        if n["notification_id"] == "anima_budget_warning"
    ]
    assert "The house has spent 2.0 of 2.2 USD today" in " ".join(
        notifications[0]["message"].split()
    )
