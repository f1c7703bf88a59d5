"""Adding, re-authenticating and reconfiguring connections, against real servers on loopback."""

from __future__ import annotations

from typing import Any
from unittest.mock import patch

from homeassistant import config_entries
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, UnknownHandler
from homeassistant.helpers import device_registry as dr
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

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
from custom_components.anima.core.profiles import (
    PROFILE_AGENT,
    PROFILE_ENDPOINT,
    PROFILE_LISTENER,
    PROFILE_VOICE,
)
from custom_components.anima.providers.base import Capability
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.wyoming_servers import (
    EmptyWyomingServer,
    GarbageServer,
    SilentServer,
    closed_port,
)
from tests.fixtures.speech_servers import SpeechServer
from tests.integration.anima_setup import add_hub, add_openai


async def _start(hass: HomeAssistant, kind: str) -> dict[str, Any]:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"][:2] == [KIND_OPENAI, KIND_WYOMING]
    return await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": kind})


async def _openai_details(hass: HomeAssistant, preset: str) -> dict[str, Any]:
    result = await _start(hass, KIND_OPENAI)
    assert result["step_id"] == "openai_compatible"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {PRESET: preset})
    assert result["step_id"] == ("openai_custom" if preset == "custom" else "openai_details")
    return result


def _default(result: dict[str, Any], field: str) -> Any:
    for key in result["data_schema"].schema:
        if key == field:
            return key.default()
    raise AssertionError(f"{field} not in the form")


async def test_custom_openai_service_is_added_and_loaded(
    hass: HomeAssistant, openai_server: FakeOpenAIServer
) -> None:
    result = await _openai_details(hass, "custom")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {BASE_URL: openai_server.base_url + "/", API_KEY: openai_server.api_key}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == f"OpenAI-compatible API on 127.0.0.1:{openai_server.port}"
    assert result["data"] == {
        KIND: KIND_OPENAI,
        PRESET: "custom",
        BASE_URL: openai_server.base_url,
        API_KEY: openai_server.api_key,
    }
    await hass.async_block_till_done()
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    assert entry.state is ConfigEntryState.LOADED
    assert entry.unique_id == openai_server.base_url
    assert Capability.CHAT in entry.runtime_data.capabilities
    assert entry.runtime_data.models


async def test_preset_fills_the_base_url_and_names_the_entry(hass: HomeAssistant) -> None:
    result = await _openai_details(hass, "openai")
    assert _default(result, BASE_URL) == "https://api.openai.com/v1"
    # A cloud preset needs a key: the form says so without calling the service.
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {BASE_URL: "https://api.openai.com/v1"}
    )
    assert result["errors"] == {API_KEY: "api_key_required"}


async def test_local_preset_needs_no_key_and_uses_the_preset_name(
    hass: HomeAssistant, openai_server: FakeOpenAIServer
) -> None:
    openai_server.api_key = None
    result = await _openai_details(hass, "ollama")
    assert _default(result, BASE_URL) == "http://localhost:11434/v1"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {BASE_URL: openai_server.base_url}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == f"Ollama on 127.0.0.1:{openai_server.port}"


async def test_wrong_key_is_reported_and_the_user_can_fix_it(
    hass: HomeAssistant, openai_server: FakeOpenAIServer
) -> None:
    result = await _openai_details(hass, "custom")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {BASE_URL: openai_server.base_url, API_KEY: "sk-wrong"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {BASE_URL: openai_server.base_url, API_KEY: openai_server.api_key}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


@pytest.mark.parametrize(
    ("models_reply", "error"),
    [
        ("html", "not_openai_compatible"),
        ("not_openai_json", "not_openai_compatible"),
        (429, "rate_limited"),
        (503, "server_error"),
        (400, "unknown"),  # a refusal no other error names: "see the log"
    ],
)
async def test_a_service_that_answers_wrongly_is_named_as_such(
    hass: HomeAssistant,
    openai_server: FakeOpenAIServer,
    models_reply: str | int,
    error: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    openai_server.models_reply = models_reply
    result = await _openai_details(hass, "custom")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {BASE_URL: openai_server.base_url, API_KEY: openai_server.api_key}
    )
    assert result["errors"] == {"base": error}
    assert not hass.config_entries.async_entries(DOMAIN)
    if error == "unknown":  # the log it points to says what the service answered
        assert "refused the connection check" in caplog.text
        assert "400" in caplog.text
        assert openai_server.api_key not in caplog.text


async def test_unreachable_and_silent_services(hass: HomeAssistant) -> None:
    result = await _openai_details(hass, "custom")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {BASE_URL: f"http://127.0.0.1:{closed_port()}/v1", API_KEY: "k"}
    )
    assert result["errors"] == {"base": "cannot_connect"}
    async with SilentServer() as silent:
        with patch("custom_components.anima.config_flow.VALIDATION_TIMEOUT", 0.3):
            result = await hass.config_entries.flow.async_configure(
                result["flow_id"], {BASE_URL: f"http://127.0.0.1:{silent.port}/v1", API_KEY: "k"}
            )
    assert result["errors"] == {"base": "timeout"}


async def test_a_base_url_that_is_not_a_url_is_refused(hass: HomeAssistant) -> None:
    result = await _openai_details(hass, "custom")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {BASE_URL: "api.example.com/v1", API_KEY: "k"}
    )
    assert result["errors"] == {BASE_URL: "invalid_url"}


async def test_the_same_service_cannot_be_added_twice(
    hass: HomeAssistant, openai_server: FakeOpenAIServer
) -> None:
    MockConfigEntry(
        domain=DOMAIN,
        unique_id=openai_server.base_url,
        data={KIND: KIND_OPENAI, PRESET: "custom", BASE_URL: openai_server.base_url},
    ).add_to_hass(hass)
    result = await _openai_details(hass, "custom")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {BASE_URL: openai_server.base_url.upper().replace("/V1", "/v1")}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_wyoming_server_is_added_with_its_services(
    hass: HomeAssistant, piper_server: SpeechServer
) -> None:
    result = await _start(hass, KIND_WYOMING)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {HOST: piper_server.host, PORT: piper_server.port}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == f"Piper on {piper_server.host}:{piper_server.port}"
    await hass.async_block_till_done()
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.capabilities == {Capability.TTS}
    assert any(voice.name == "en_US-joe-medium" for voice in entry.runtime_data.services.tts_voices)
    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, entry.entry_id), entry.entry_id
    )
    assert device is not None
    assert (device.name, device.manufacturer, device.model) == (
        entry.title,
        None,
        "Wyoming text-to-speech (Piper)",
    )

    # The same server again is refused.
    result = await _start(hass, KIND_WYOMING)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {HOST: piper_server.host, PORT: piper_server.port}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_wyoming_failures_are_named(hass: HomeAssistant) -> None:
    result = await _start(hass, KIND_WYOMING)
    flow_id = result["flow_id"]

    async def submit(port: int) -> dict[str, Any]:
        return await hass.config_entries.flow.async_configure(
            flow_id, {HOST: "127.0.0.1", PORT: port}
        )

    assert (await submit(closed_port()))["errors"] == {"base": "cannot_connect"}
    async with GarbageServer() as garbage:
        assert (await submit(garbage.port))["errors"] == {"base": "not_wyoming"}
    async with EmptyWyomingServer() as empty:
        assert (await submit(empty.port))["errors"] == {"base": "no_wyoming_services"}
    async with SilentServer() as silent:
        with patch("custom_components.anima.config_flow.VALIDATION_TIMEOUT", 0.3):
            assert (await submit(silent.port))["errors"] == {"base": "timeout"}
    assert not hass.config_entries.async_entries(DOMAIN)


async def test_unexpected_errors_are_logged_not_hidden(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    result = await _start(hass, KIND_WYOMING)
    with patch(
        "custom_components.anima.config_flow.open_connection", side_effect=RuntimeError("bug")
    ):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {HOST: "127.0.0.1", PORT: 10200}
        )
    assert result["errors"] == {"base": "unknown"}
    assert "Unexpected error while checking a provider connection" in caplog.text


async def test_only_the_hub_offers_profiles_and_endpoints(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator, openai_server: FakeOpenAIServer
) -> None:
    cloud = await add_openai(hass, openai_server, "Cloud")
    hub = await add_hub(hass)
    # What the frontend reads to show "Configure" and "Add agent" (and the like) on an entry.
    assert await async_setup_component(hass, "config", {})
    client = await hass_ws_client(hass)
    await client.send_json_auto_id({"type": "config_entries/get", "domain": DOMAIN})
    entries = {entry["entry_id"]: entry for entry in (await client.receive_json())["result"]}
    assert set(entries[hub.entry_id]["supported_subentry_types"]) == {
        PROFILE_AGENT,
        PROFILE_LISTENER,
        PROFILE_VOICE,
        PROFILE_ENDPOINT,
    }
    assert entries[cloud.entry_id]["supported_subentry_types"] == {}
    # Both have options: the hub its currency and budgets, a connection its prices.
    assert entries[hub.entry_id]["supports_options"] is True
    assert entries[cloud.entry_id]["supports_options"] is True
    # A client that asks anyway gets no flow, and the connection gets no subentry.
    with pytest.raises(UnknownHandler):
        await hass.config_entries.subentries.async_init(
            (cloud.entry_id, PROFILE_AGENT), context={"source": config_entries.SOURCE_USER}
        )
    assert not cloud.subentries


async def test_reconfiguring_the_hub_says_there_is_nothing_to_change(
    hass: HomeAssistant,
) -> None:
    hub = await add_hub(hass)
    result = await hub.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "hub_not_reconfigurable"
    assert hub.data == {KIND: KIND_HUB}
    assert hub.state is ConfigEntryState.LOADED
