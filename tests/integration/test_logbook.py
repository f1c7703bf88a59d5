"""The Activity log (Home Assistant's logbook over its real recorder): a line per turn on the
endpoint's Anima device, and a line on the hub's device when the house budget changes level,
each read back as the device page's Activity card asks for it."""

from __future__ import annotations

from typing import Any

from homeassistant.components.recorder import Recorder
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.anima.const import CURRENCY, HOUSE_DAILY
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.integration.typed import anima_device, converse, typed_kitchen


@pytest.fixture
def mock_recorder_before_hass(async_test_recorder: Any) -> None:
    """The recorder's database is prepared before Home Assistant starts (phcc's hook)."""


@pytest.fixture(autouse=True)
async def logbook(recorder_mock: Recorder, hass: HomeAssistant) -> None:
    """The logbook, on the recorder. It only registers its panel with the frontend, whose
    package (the web UI) is not installed here: the frontend is marked loaded instead."""
    hass.config.components.add("frontend")
    assert await async_setup_component(hass, "logbook", {})


async def _activity(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator, device: str
) -> list[dict[str, Any]]:
    """Anima's entries in a device's Activity, oldest first."""
    await async_wait_recording_done(hass)
    ws = await hass_ws_client(hass)
    await ws.send_json_auto_id(
        {
            "type": "logbook/get_events",
            "start_time": "2000-01-01T00:00:00+00:00",
            "device_ids": [device],
        }
    )
    response = await ws.receive_json()
    assert response["success"], response
    return [entry for entry in response["result"] if entry.get("domain") == "anima"]


async def test_each_turn_is_a_line_on_the_endpoints_device(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator, openai_server: FakeOpenAIServer
) -> None:
    hass.config.currency = "USD"
    _, kitchen, device = await typed_kitchen(hass, openai_server)
    openai_server.reply(Reply.text("Sunny.", usage=(1200, 30)))
    await converse(hass, "What is the weather like?", kitchen)
    openai_server.reply(Reply.error(500), Reply.error(500), Reply.error(500))
    await converse(hass, "Is the door locked?", kitchen)

    answered, failed = await _activity(hass, hass_ws_client, device)
    assert answered["name"] == "Kitchen"
    # gpt-4.1-mini: 1,200 tokens in and 30 out cost USD 0.000528; typed, so no voice.
    assert answered["message"].startswith('answered "What is the weather like?": "Sunny."; ')
    assert "; 0.0005 USD; " in answered["message"]
    assert answered["message"].endswith("; Cloud gpt-4.1-mini")
    assert (failed["name"], failed["message"]) == (
        "Kitchen",
        'could not answer "Is the door locked?"',
    )


async def test_the_house_budget_changing_level_is_a_line_on_the_hubs_device(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator, openai_server: FakeOpenAIServer
) -> None:
    hub, kitchen, _ = await typed_kitchen(hass, openai_server)
    hass.config_entries.async_update_entry(hub, options={CURRENCY: "USD", HOUSE_DAILY: 2.2})
    await hass.async_block_till_done()
    # gpt-4.1-mini costs USD 0.40 per million input tokens: USD 2 of 2.20 is a warning.
    openai_server.reply(Reply.text("Long answer.", usage=(5_000_000, 0)))
    await converse(hass, "Tell me everything.", kitchen)
    # The house has no daily limit any more: back to normal, with no limit to show.
    hass.config_entries.async_update_entry(hub, options={CURRENCY: "USD"})
    await hass.async_block_till_done()

    warning, normal = await _activity(hass, hass_ws_client, anima_device(hass, hub.entry_id))
    assert (warning["name"], warning["message"]) == (
        "House",
        "budget warning (day: 2.0000 of 2.2000 USD)",
    )
    assert (normal["name"], normal["message"]) == ("House", "budget normal (no limit)")
