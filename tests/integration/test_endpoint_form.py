"""The endpoint form offers only devices that can be endpoints and asks for what an endpoint
needs (an agent or a voice), saying what to add first when something is missing (issue 18)."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from homeassistant import config_entries
from homeassistant.config_entries import ConfigSubentry
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.anima.core.endpoints import AGENT, DEVICE, SATELLITE, VOICE
from custom_components.anima.core.profiles import PROFILE_ENDPOINT, PROFILE_VOICE
from tests.fakes.openai_server import FakeOpenAIServer
from tests.integration.anima_setup import add_hub, add_openai, endpoint, profile
from tests.integration.test_names import STRINGS


def _device(hass: HomeAssistant, domain: str, name: str, *platforms: str) -> str:
    """A device of another integration with one entity of each of `platforms`; its id."""
    entry = MockConfigEntry(domain=domain, title=name)
    entry.add_to_hass(hass)
    device = dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id, identifiers={(domain, name)}, name=name
    )
    for platform in platforms:
        er.async_get(hass).async_get_or_create(
            platform, domain, f"{name}-{platform}", config_entry=entry, device_id=device.id
        )
    return device.id


async def _start(hass: HomeAssistant, hub_id: str) -> dict[str, Any]:
    return dict(
        await hass.config_entries.subentries.async_init(
            (hub_id, PROFILE_ENDPOINT), context={"source": config_entries.SOURCE_USER}
        )
    )


def _choices(form: dict[str, Any], field: str) -> dict[str, str]:
    key = next(key for key in form["data_schema"].schema if key == field)
    return {o["value"]: o["label"] for o in form["data_schema"].schema[key].config["options"]}


def _texts(result: dict[str, Any]) -> str:
    step = STRINGS["config_subentries"][PROFILE_ENDPOINT]["step"][result["step_id"]]
    assert step["title"]
    return f"{step['title']} {step['description']}"


async def test_the_picker_offers_only_devices_that_can_be_endpoints(
    hass: HomeAssistant, openai_server: FakeOpenAIServer
) -> None:
    kitchen = _device(hass, "wyoming", "Kitchen satellite", "assist_satellite", "switch")
    speaker = _device(hass, "cast", "Living room speaker", "media_player")
    porch = _device(hass, "esphome", "Porch camera", "camera")
    bound = _device(hass, "wyoming", "Hall satellite", "assist_satellite")
    _device(hass, "backup", "Backup", "sensor")
    _device(hass, "google_translate", "Google Translate", "tts")
    await add_openai(hass, openai_server, "Cloud")  # Anima's own connection device
    hub = await add_hub(
        hass,
        profile(PROFILE_VOICE, "Voice", []),
        endpoint("Hall", bound),  # an endpoint already, whose Anima device has a camera too
    )
    form = await _start(hass, hub.entry_id)
    assert form["step_id"] == "user"
    assert _choices(form, DEVICE) == {
        kitchen: "Kitchen satellite",
        speaker: "Living room speaker",
        porch: "Porch camera",
    }


async def test_an_endpoint_needs_an_agent_or_a_voice(hass: HomeAssistant) -> None:
    kitchen = _device(hass, "wyoming", "Kitchen satellite", "assist_satellite")
    backup = _device(hass, "backup", "Backup", "sensor")
    hub = await add_hub(hass, profile(PROFILE_VOICE, "Voice", []))
    form = await _start(hass, hub.entry_id)
    flow_id = form["flow_id"]
    with pytest.raises(InvalidData):  # a device that is not offered is refused
        await hass.config_entries.subentries.async_configure(flow_id, {DEVICE: backup})
    result = await hass.config_entries.subentries.async_configure(flow_id, {DEVICE: kitchen})
    assert result["errors"] == {"base": "agent_or_voice_required"}
    assert not [s for s in hub.subentries.values() if s.subentry_type == PROFILE_ENDPOINT]
    (voice,) = _choices(result, VOICE)
    result = await hass.config_entries.subentries.async_configure(
        flow_id, {DEVICE: kitchen, VOICE: voice}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][SATELLITE].startswith("assist_satellite.")


async def test_without_profiles_or_devices_the_form_says_what_to_add_first(
    hass: HomeAssistant,
) -> None:
    hub = await add_hub(hass)
    result = await _start(hass, hub.entry_id)
    assert "an agent or a voice" in _texts(result)
    assert (await hass.config_entries.subentries.async_configure(result["flow_id"], {}))[
        "step_id"
    ] == result["step_id"]  # checked again: still none

    hass.config_entries.async_add_subentry(
        hub,
        ConfigSubentry(
            data=MappingProxyType({}), subentry_type=PROFILE_VOICE, title="Voice", unique_id=None
        ),
    )
    await hass.async_block_till_done()
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], {})
    assert "satellite" in _texts(result)  # now the device is missing: none can be an endpoint
    _device(hass, "wyoming", "Kitchen satellite", "assist_satellite")
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], {})
    assert (result["type"], result["step_id"]) == (FlowResultType.FORM, "user")
    assert AGENT in {str(key) for key in result["data_schema"].schema}


@pytest.mark.parametrize(
    ("meanwhile", "error"),
    [
        ("deleted", "device_not_found"),
        ("bound", "already_bound"),
        ("disabled", "not_endpoint_device"),
    ],
)
async def test_a_device_chosen_from_a_stale_form_is_refused(
    hass: HomeAssistant, meanwhile: str, error: str
) -> None:
    """The form was shown; before it is sent, the device went, became an endpoint or was
    disabled. The choice passes the old form's list, the check refuses it."""
    kitchen = _device(hass, "wyoming", "Kitchen satellite", "assist_satellite")
    _device(hass, "cast", "Living room speaker", "media_player")  # so the form stays a form
    hub = await add_hub(hass, profile(PROFILE_VOICE, "Voice", []))
    form = await _start(hass, hub.entry_id)
    (voice,) = _choices(form, VOICE)
    devices = dr.async_get(hass)
    if meanwhile == "deleted":
        devices.async_remove_device(kitchen)
    elif meanwhile == "disabled":
        devices.async_update_device(kitchen, disabled_by=dr.DeviceEntryDisabler.USER)
    else:
        other = await _start(hass, hub.entry_id)
        bound = await hass.config_entries.subentries.async_configure(
            other["flow_id"], {DEVICE: kitchen, VOICE: voice}
        )
        assert bound["type"] is FlowResultType.CREATE_ENTRY
        await hass.async_block_till_done()
    endpoints = [s for s in hub.subentries.values() if s.subentry_type == PROFILE_ENDPOINT]
    result = await hass.config_entries.subentries.async_configure(
        form["flow_id"], {DEVICE: kitchen, VOICE: voice}
    )
    assert (result["type"], result["errors"]) == (FlowResultType.FORM, {DEVICE: error})
    assert [s for s in hub.subentries.values() if s.subentry_type == PROFILE_ENDPOINT] == endpoints
