"""A hub with an agent and a Kitchen endpoint, spoken to by typing from the endpoint's device."""

from __future__ import annotations

from datetime import timedelta

from homeassistant.components import conversation
from homeassistant.core import Context, HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.anima.const import DOMAIN
from custom_components.anima.core.profiles import PROFILE_AGENT, PROFILE_ENDPOINT, Link
from custom_components.anima.runtime.turns import SPEECH_GRACE
from tests.fakes.openai_server import FakeOpenAIServer
from tests.integration.anima_setup import add_hub, add_openai, endpoint, profile, satellite_device

AGENT = "conversation.anima_assistant"


def anima_device(hass: HomeAssistant, key: str) -> str:
    """The id of Anima's device of an endpoint (its subentry id) or of the hub (its entry id)."""
    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, key),
        next(e.entry_id for e in hass.config_entries.async_entries(DOMAIN) if e.title == "Anima"),
    )
    assert device is not None
    return device.id


async def typed_kitchen(
    hass: HomeAssistant, openai_server: FakeOpenAIServer
) -> tuple[MockConfigEntry, str, str]:
    """The hub with an agent and a Kitchen endpoint; its satellite's device and Anima's."""
    cloud = await add_openai(hass, openai_server, "Cloud", preset="openai")
    kitchen = satellite_device(hass, "Kitchen")
    hub = await add_hub(
        hass,
        profile(PROFILE_AGENT, "Assistant", [Link(cloud.entry_id, "gpt-4.1-mini")]),
        endpoint("Kitchen", kitchen),
    )
    (sub,) = [s for s in hub.subentries.values() if s.subentry_type == PROFILE_ENDPOINT]
    return hub, kitchen, anima_device(hass, sub.subentry_id)


async def converse(hass: HomeAssistant, text: str, device: str) -> None:
    await conversation.async_converse(
        hass, text, None, Context(), "en", agent_id=AGENT, device_id=device
    )
    # A typed turn has no voice: it ends a few seconds after its answer.
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=SPEECH_GRACE + 1))
    await hass.async_block_till_done()
