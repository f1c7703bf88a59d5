"""Endpoints: adopted devices bound in the hub, found from a turn's device, with persona,
budget and cost of their own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from ipaddress import ip_address
from pathlib import Path
from types import MappingProxyType
from typing import Any

from homeassistant import config_entries
from homeassistant.components import camera, conversation
from homeassistant.core import Context, HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import (
    area_registry as ar,
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
from homeassistant.setup import async_setup_component
from PIL import Image
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator, WebSocketGenerator
import yaml

from anima_satellite.endpoint_service import ServiceSettings, serve as serve_endpoint
from anima_satellite.satellite import SatelliteSettings, play
import custom_components.anima as anima_package
from custom_components.anima.const import DOMAIN
from custom_components.anima.core.endpoints import (
    AGENT,
    AREA,
    CAMERA,
    DAILY_BUDGET,
    DEVICE,
    PERSONA,
    SATELLITE,
    SERVICE,
    SERVICE_KEY,
    VOICE,
    VisionMode,
)
from custom_components.anima.core.profiles import (
    PROFILE_AGENT,
    PROFILE_ENDPOINT,
    PROFILE_VOICE,
    Link,
)
from custom_components.anima.core.speech.earcons import Earcon, earcon_pcm
from custom_components.anima.protocol import ZEROCONF_TYPE, new_key, parse_key
from scripts.hassctl import free_port
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.integration.anima_setup import (
    add_hub,
    add_openai,
    endpoint,
    profile,
    satellite_device,
)


def _satellite_device(hass: HomeAssistant) -> dr.DeviceEntry:
    """A Wyoming satellite with a camera, in the kitchen, as Home Assistant adopts one."""
    wyoming = MockConfigEntry(domain="wyoming", title="Kitchen satellite")
    wyoming.add_to_hass(hass)
    kitchen = ar.async_get(hass).async_create("Kitchen")
    device = dr.async_get(hass).async_get_or_create(
        config_entry_id=wyoming.entry_id,
        identifiers={("wyoming", "kitchen-satellite")},
        name="Kitchen satellite",
    )
    device = dr.async_get(hass).async_update_device(device.id, area_id=kitchen.id) or device
    entities = er.async_get(hass)
    for domain, object_id in (("assist_satellite", "kitchen"), ("camera", "kitchen")):
        entities.async_get_or_create(
            domain,
            "wyoming",
            f"kitchen-{domain}",
            suggested_object_id=object_id,
            config_entry=wyoming,
            device_id=device.id,
        )
    return device


def _endpoints(hub: config_entries.ConfigEntry) -> dict[str, config_entries.ConfigSubentry]:
    """The hub's endpoints (its other subentries are profiles)."""
    return {k: s for k, s in hub.subentries.items() if s.subentry_type == PROFILE_ENDPOINT}


#: The voice of the hubs here: an endpoint needs an agent or a voice.
VOICE_PROFILE = profile(PROFILE_VOICE, "Voice", [])


async def _bind(hass: HomeAssistant, hub_id: str, form: dict[str, Any]) -> dict[str, Any]:
    """Bind a device with the form's fields and, unless they name an agent, the hub's voice."""
    result = await hass.config_entries.subentries.async_init(
        (hub_id, PROFILE_ENDPOINT), context={"source": config_entries.SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    if AGENT not in form:
        voices = next(key for key in result["data_schema"].schema if key == VOICE)
        form = {VOICE: result["data_schema"].schema[voices].config["options"][0]["value"], **form}
    return dict(await hass.config_entries.subentries.async_configure(result["flow_id"], form))


async def test_binding_a_device_finds_its_satellite_camera_and_area(hass: HomeAssistant) -> None:
    device = _satellite_device(hass)
    hub = await add_hub(hass, VOICE_PROFILE)
    result = await _bind(hass, hub.entry_id, {DEVICE: device.id})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Kitchen satellite"
    data = result["data"]
    assert data[SATELLITE] == "assist_satellite.kitchen"
    assert data[CAMERA] == "camera.kitchen"
    assert data[AREA] == device.area_id
    assert data.get("vision_mode", VisionMode.ON_DEMAND) == VisionMode.ON_DEMAND
    # One device, one endpoint: it is offered no more (here, nothing is).
    again = await hass.config_entries.subentries.async_init(
        (hub.entry_id, PROFILE_ENDPOINT), context={"source": config_entries.SOURCE_USER}
    )
    assert again["step_id"] == "needs_device"


async def test_a_turn_from_the_device_uses_its_persona_budget_and_cost(
    hass: HomeAssistant, openai_server: FakeOpenAIServer
) -> None:
    device = _satellite_device(hass)
    cloud = await add_openai(hass, openai_server, "OpenAI", preset="openai")
    hub = await add_hub(
        hass,
        profile(PROFILE_AGENT, "Assistant", [Link(cloud.entry_id, "gpt-4.1-mini")]),
        VOICE_PROFILE,
    )
    await _bind(
        hass,
        hub.entry_id,
        {DEVICE: device.id, PERSONA: "You are the kitchen speaker.", DAILY_BUDGET: 0.0005},
    )
    await hass.async_block_till_done()
    openai_server.reply(Reply.text("Hello.", usage=(1200, 300)))  # USD 0.00096
    await conversation.async_converse(
        hass,
        "Hi",
        None,
        Context(),
        "en",
        agent_id="conversation.anima_assistant",
        device_id=device.id,
    )
    await hass.async_block_till_done()
    system = openai_server.requests[-1].json["messages"][0]["content"]
    assert "You are the kitchen speaker." in system
    state = hass.states.get("sensor.kitchen_satellite_cost_today")
    assert state is not None
    assert float(state.state) > 0
    issue = ir.async_get(hass).async_get_issue(DOMAIN, f"budget_{device.id}")
    assert issue is not None
    assert issue.translation_key == "budget_exceeded"
    assert issue.translation_placeholders["target"] == "Kitchen satellite"
    # The house has no budget: a turn from elsewhere is not held back.
    assert ir.async_get(hass).async_get_issue(DOMAIN, "budget_house") is None


async def test_an_endpoint_has_a_device_of_its_own_connected_through_the_bound_one(
    hass: HomeAssistant,
) -> None:
    device = _satellite_device(hass)
    hub = await add_hub(hass, VOICE_PROFILE)
    await _bind(hass, hub.entry_id, {DEVICE: device.id})
    await hass.async_block_till_done()
    ((subentry_id, _),) = _endpoints(hub).items()
    own = dr.async_get(hass).async_get_device_by_identifier((DOMAIN, subentry_id), hub.entry_id)
    assert own is not None
    assert own.via_device_id == device.id
    assert own.name == "Kitchen satellite"
    assert hass.states.get("sensor.kitchen_satellite_cost_today") is not None


async def test_an_adopted_satellite_is_offered_and_bound_from_the_repair(
    hass: HomeAssistant, hass_client: ClientSessionGenerator
) -> None:
    assert await async_setup_component(hass, "repairs", {})
    hub = await add_hub(hass, VOICE_PROFILE)
    device = _satellite_device(hass)  # adopted while the hub runs
    await hass.async_block_till_done()
    issue_id = f"new_satellite_{device.id}"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.is_fixable
    assert issue.translation_placeholders == {"name": "Kitchen satellite"}

    client = await hass_client()
    response = await client.post(
        "/api/repairs/issues/fix", json={"handler": DOMAIN, "issue_id": issue_id}
    )
    flow = await response.json()
    assert flow["step_id"] == "confirm"
    response = await client.post(f"/api/repairs/issues/fix/{flow['flow_id']}", json={})
    assert (await response.json())["type"] == "create_entry"
    await hass.async_block_till_done()
    (voice, endpoint) = hub.subentries.values()
    assert endpoint.subentry_type == PROFILE_ENDPOINT
    assert endpoint.data[SATELLITE] == "assist_satellite.kitchen"
    assert endpoint.data[VOICE] == voice.subentry_id  # the hub's voice: it needs one
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None  # offered no more


async def _fix_offer(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, device: dr.DeviceEntry
) -> tuple[Any, str]:
    """Open the repair of the offer of `device` as the Repairs dialog does; client, flow id."""
    client = await hass_client()
    response = await client.post(
        "/api/repairs/issues/fix",
        json={"handler": DOMAIN, "issue_id": f"new_satellite_{device.id}"},
    )
    flow = await response.json()
    assert flow["step_id"] == "confirm"
    return client, flow["flow_id"]


async def test_binding_from_the_repair_needs_a_profile_on_the_hub(
    hass: HomeAssistant, hass_client: ClientSessionGenerator
) -> None:
    assert await async_setup_component(hass, "repairs", {})
    hub = await add_hub(hass)  # no agent, no voice yet
    device = _satellite_device(hass)
    await hass.async_block_till_done()
    client, flow_id = await _fix_offer(hass, hass_client, device)
    response = await client.post(f"/api/repairs/issues/fix/{flow_id}", json={})
    result = await response.json()
    assert (result["type"], result["reason"]) == ("abort", "needs_profile")
    assert _endpoints(hub) == {}
    offer = ir.async_get(hass).async_get_issue(DOMAIN, f"new_satellite_{device.id}")
    assert offer is not None  # still offered, for once a profile is added


async def test_a_satellite_deleted_while_its_repair_is_open_is_not_bound(
    hass: HomeAssistant, hass_client: ClientSessionGenerator
) -> None:
    assert await async_setup_component(hass, "repairs", {})
    hub = await add_hub(hass, VOICE_PROFILE)
    device = _satellite_device(hass)
    await hass.async_block_till_done()
    client, flow_id = await _fix_offer(hass, hass_client, device)
    dr.async_get(hass).async_remove_device(device.id)
    await hass.async_block_till_done()
    response = await client.post(f"/api/repairs/issues/fix/{flow_id}", json={})
    result = await response.json()
    assert (result["type"], result["reason"]) == ("abort", "satellite_gone")
    assert _endpoints(hub) == {}


#: The pairing key of the satellites' endpoint services in these tests.
KEY = new_key()


def _service(name: str, **settings: Any) -> ServiceSettings:
    """A satellite's endpoint service paired with KEY."""
    return ServiceSettings(name, parse_key(KEY), **settings)


@asynccontextmanager
async def _endpoint_service(hass: HomeAssistant, settings: ServiceSettings) -> AsyncIterator[int]:
    """A satellite's real endpoint service on loopback, while the block runs; its port."""
    port = free_port()
    service = hass.async_create_background_task(
        serve_endpoint(f"tcp://127.0.0.1:{port}", settings), "endpoint service"
    )
    try:
        yield port
    finally:
        service.cancel()


async def test_a_satellites_endpoint_service_becomes_its_camera(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    image = tmp_path / "hall.jpg"
    Image.new("RGB", (320, 240), (200, 200, 10)).save(image, "JPEG")
    async with _endpoint_service(hass, _service("Hall", camera_image=image)) as port:
        device = satellite_device(hass, "Hall")
        hub = await add_hub(hass, VOICE_PROFILE)
        # Typed in the form: the service takes the key, so the device is bound with it.
        service = {SERVICE: f"127.0.0.1:{port}", SERVICE_KEY: KEY}
        result = await _bind(hass, hub.entry_id, {DEVICE: device, **service})
        assert result["type"] is FlowResultType.CREATE_ENTRY
        await hass.async_block_till_done()
        frame = await camera.async_get_image(hass, "camera.hall_camera")
        assert frame.content == image.read_bytes()
        (bound,) = _endpoints(hub).values()
        assert bound.data[CAMERA] == "camera.hall_camera"  # the endpoint looks through it


async def test_an_endpoint_service_answers_only_the_hub_that_has_its_key(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    """The form checks the key against the service; without it, no frame and a repair."""
    image = tmp_path / "hall.jpg"
    Image.new("RGB", (320, 240), (200, 200, 10)).save(image, "JPEG")
    async with _endpoint_service(hass, _service("Hall", camera_image=image)) as port:
        device = satellite_device(hass, "Hall")
        hub = await add_hub(hass, VOICE_PROFILE)
        address = f"127.0.0.1:{port}"
        for form, error in (
            ({SERVICE: address}, "service_key_required"),
            ({SERVICE: address, SERVICE_KEY: new_key()}, "service_key_rejected"),
            ({SERVICE: address, SERVICE_KEY: "not a key"}, "invalid_service_key"),
            ({SERVICE: "127.0.0.1:1", SERVICE_KEY: KEY}, "service_unreachable"),
            ({SERVICE: "hall.local", SERVICE_KEY: KEY}, "service_unreachable"),  # no port
        ):
            refused = await _bind(hass, hub.entry_id, {DEVICE: device, **form})
            assert refused["errors"] == {SERVICE_KEY: error}
        # Bound with the service but no key (as a discovered one is): no frame, a repair issue.
        hass.config_entries.async_add_subentry(
            hub,
            config_entries.ConfigSubentry(
                data=MappingProxyType({DEVICE: device, SERVICE: address}),
                subentry_type=PROFILE_ENDPOINT,
                title="Hall",
                unique_id=None,
            ),
        )
        await hass.async_block_till_done()
        with pytest.raises(HomeAssistantError):
            await camera.async_get_image(hass, "camera.hall_camera")
        (bound,) = _endpoints(hub).values()
        issue_id = f"unpaired_endpoint_{bound.subentry_id}"
        assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None
        hass.config_entries.async_update_subentry(hub, bound, data={**bound.data, SERVICE_KEY: KEY})
        await hass.async_block_till_done()
        frame = await camera.async_get_image(hass, "camera.hall_camera")  # paired: no reload
        assert frame.content == image.read_bytes()
        assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None


def _announced(service_port: int, properties: dict[str, str | None]) -> ZeroconfServiceInfo:
    """An `_anima._tcp` announcement as Home Assistant's zeroconf integration hands it over."""
    return ZeroconfServiceInfo(
        ip_address=ip_address("127.0.0.1"),
        ip_addresses=[ip_address("127.0.0.1")],
        port=service_port,
        hostname="hall.local.",
        type=ZEROCONF_TYPE,
        name=f"Hall.{ZEROCONF_TYPE}",
        properties=properties,
    )


async def _discover(hass: HomeAssistant, info: ZeroconfServiceInfo) -> str:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_ZEROCONF}, data=info
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    return str(result["reason"])


async def test_an_endpoint_service_found_over_zeroconf_becomes_the_endpoints_camera(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    image = tmp_path / "hall.jpg"
    Image.new("RGB", (320, 240), (10, 200, 200)).save(image, "JPEG")
    async with _endpoint_service(hass, _service("Hall", camera_image=image)) as port:
        hall = endpoint("Hall", satellite_device(hass, "Hall", port=10700), **{SERVICE_KEY: KEY})
        hub = await add_hub(hass, hall)
        await hass.async_block_till_done()
        assert hass.states.get("camera.hall_camera") is None  # no service known yet
        reason = await _discover(hass, _announced(port, {"satellite_port": "10700"}))
        assert reason == "endpoint_service_found"
        frame = await camera.async_get_image(hass, "camera.hall_camera")
        assert frame.content == image.read_bytes()
        (bound,) = hub.subentries.values()
        assert bound.data[SERVICE] == f"127.0.0.1:{port}"
        # Announced again at another port (the board restarted): the endpoint follows it.
        await _discover(hass, _announced(port + 1, {"satellite_port": "10700"}))
        assert hub.subentries[bound.subentry_id].data[SERVICE] == f"127.0.0.1:{port + 1}"


async def test_a_service_found_before_its_satellite_is_bound_is_taken_when_bound(
    hass: HomeAssistant,
) -> None:
    hub = await add_hub(hass, VOICE_PROFILE)
    other = satellite_device(hass, "Attic", port=10800)
    device = satellite_device(hass, "Hall", port=10700)
    await _discover(hass, _announced(10701, {"satellite_port": "10700"}))
    assert not _endpoints(hub)  # found, but nothing to give it to yet
    for device_id in (device, other):
        bound = await _bind(hass, hub.entry_id, {DEVICE: device_id})
        assert bound["type"] is FlowResultType.CREATE_ENTRY
    services = {sub.title: sub.data.get(SERVICE) for sub in _endpoints(hub).values()}
    assert services == {"Hall": "127.0.0.1:10701", "Attic": None}


async def test_an_announcement_that_names_no_satellite_is_ignored(hass: HomeAssistant) -> None:
    hub = await add_hub(hass, endpoint("Hall", satellite_device(hass, "Hall", port=10700)))
    for garbage in ({}, {"satellite_port": "not a port"}, {"satellite_port": None}):
        assert await _discover(hass, _announced(10701, garbage)) == "not_anima_endpoint_service"
    (bound,) = hub.subentries.values()
    assert SERVICE not in bound.data


async def test_play_earcon_plays_on_the_endpoints_own_speaker_and_says_why_not(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    sound = tmp_path / "speaker.raw"  # what the satellite's playback wrote
    satellite = SatelliteSettings(name="Hall", snd_file=sound)
    hall = satellite_device(hass, "Hall", port=10700)
    played = _service("Hall", play=partial(play, satellite))
    async with _endpoint_service(hass, played) as port:
        attic = satellite_device(hass, "Attic", port=10800)  # its satellite runs no service
        await add_hub(
            hass,
            endpoint("Hall", hall, **{SERVICE: f"127.0.0.1:{port}", SERVICE_KEY: KEY}),
            endpoint("Attic", attic),
        )
        await hass.async_block_till_done()
        await hass.services.async_call(
            DOMAIN, "play_earcon", {"device_id": hall, "earcon": "confirm"}, blocking=True
        )
        assert sound.read_bytes() == earcon_pcm("confirm")

        with pytest.raises(ServiceValidationError) as refused:
            await hass.services.async_call(
                DOMAIN, "play_earcon", {"device_id": [hall, attic], "earcon": "done"}, blocking=True
            )
        assert refused.value.translation_key == "no_earcon_player"
        assert refused.value.translation_placeholders == {"name": "Attic"}
        assert sound.read_bytes() == earcon_pcm("confirm")  # nothing played on either
    await asyncio.sleep(0.1)
    with pytest.raises(HomeAssistantError) as failed:  # the satellite went away
        await hass.services.async_call(
            DOMAIN, "play_earcon", {"device_id": hall, "earcon": "alert"}, blocking=True
        )
    assert failed.value.translation_key == "earcon_not_played"


def test_the_actions_earcon_choices_are_the_earcons() -> None:
    actions = yaml.safe_load((Path(anima_package.__file__).parent / "services.yaml").read_text())
    options = actions["play_earcon"]["fields"]["earcon"]["selector"]["select"]["options"]
    assert options == [earcon.value for earcon in Earcon]


async def test_an_endpoint_goes_with_the_device_it_binds(hass: HomeAssistant) -> None:
    """The satellite's device deleted (or its Wyoming entry removed): no endpoint left over."""
    kitchen, hall = satellite_device(hass, "Kitchen"), satellite_device(hass, "Hall", 10701)
    hub = await add_hub(hass, endpoint("Kitchen", kitchen), endpoint("Hall", hall))
    dr.async_get(hass).async_remove_device(kitchen)
    await hass.async_block_till_done()
    assert [s.title for s in hub.subentries.values()] == ["Hall"]
    assert hub.state is config_entries.ConfigEntryState.LOADED


async def test_deleting_an_endpoints_device_removes_the_endpoint_and_nothing_else(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator
) -> None:
    assert await async_setup_component(hass, "config", {})
    kitchen = satellite_device(hass, "Kitchen")
    hub = await add_hub(hass, endpoint("Kitchen", kitchen))
    (endpoint_id,) = hub.subentries
    devices = dr.async_get(hass)
    own = devices.async_get_device_by_identifier((DOMAIN, endpoint_id), hub.entry_id)
    hub_device = devices.async_get_device_by_identifier((DOMAIN, hub.entry_id), hub.entry_id)
    assert own is not None
    assert hub_device is not None
    ws = await hass_ws_client(hass)

    async def delete(device_id: str) -> dict[str, Any]:
        await ws.send_json_auto_id(
            {
                "type": "config/device_registry/remove_config_entry",
                "config_entry_id": hub.entry_id,
                "device_id": device_id,
            }
        )
        return dict(await ws.receive_json())

    assert (await delete(hub_device.id))["success"] is False  # the hub goes with its entry
    assert (await delete(own.id))["success"] is True
    await hass.async_block_till_done()
    assert hub.subentries == {}
    assert devices.async_get(kitchen) is not None  # the satellite itself stays
