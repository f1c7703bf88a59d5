"""Set-up, re-authentication, reconfiguration and diagnostics of connections."""

from __future__ import annotations

import json

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.anima.const import (
    API_KEY,
    BASE_URL,
    DOMAIN,
    HOST,
    KIND,
    KIND_OPENAI,
    KIND_WYOMING,
    PORT,
    PRESET,
)
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.wyoming_servers import closed_port
from tests.fixtures.speech_servers import SpeechServer


def _openai_entry(server: FakeOpenAIServer, api_key: str | None) -> MockConfigEntry:
    return MockConfigEntry(
        domain=DOMAIN,
        title="Fake",
        unique_id=server.base_url,
        data={KIND: KIND_OPENAI, PRESET: "custom", BASE_URL: server.base_url, API_KEY: api_key},
    )


async def test_unreachable_service_is_retried_and_unloads_cleanly(hass: HomeAssistant) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="gone",
        data={KIND: KIND_WYOMING, HOST: "127.0.0.1", PORT: closed_port()},
    )
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert entry.reason == "Could not connect to gone"  # HA trims the final full stop
    await hass.config_entries.async_unload(entry.entry_id)
    assert entry.state is ConfigEntryState.NOT_LOADED


async def test_rejected_key_at_start_asks_for_a_new_one(
    hass: HomeAssistant, openai_server: FakeOpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    entry = _openai_entry(openai_server, "sk-revoked")
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_ERROR

    flows = hass.config_entries.flow.async_progress()
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]
    flow_id = flows[0]["flow_id"]
    result = await hass.config_entries.flow.async_configure(flow_id, {API_KEY: "sk-still-wrong"})
    assert result["errors"] == {"base": "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(
        flow_id, {API_KEY: openai_server.api_key}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert entry.data[API_KEY] == openai_server.api_key
    assert entry.state is ConfigEntryState.LOADED
    assert "sk-revoked" not in caplog.text
    assert "sk-still-wrong" not in caplog.text


async def test_reconfigure_moves_a_connection_and_keeps_the_key(
    hass: HomeAssistant, openai_server: FakeOpenAIServer
) -> None:
    entry = _openai_entry(openai_server, openai_server.api_key)
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    moved = FakeOpenAIServer(api_key=openai_server.api_key)
    await moved.start()
    try:
        result = await entry.start_reconfigure_flow(hass)
        assert result["step_id"] == "reconfigure"
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {BASE_URL: moved.base_url}
        )
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "reconfigure_successful"
        await hass.async_block_till_done()
        assert entry.data[BASE_URL] == moved.base_url
        assert entry.data[API_KEY] == openai_server.api_key
        assert entry.unique_id == moved.base_url
        assert entry.state is ConfigEntryState.LOADED
        assert any(request.path.endswith("/models") for request in moved.requests)
    finally:
        await moved.close()


async def test_reconfigure_reports_errors_and_refuses_duplicates(
    hass: HomeAssistant, piper_server: SpeechServer, whisper_server: SpeechServer
) -> None:
    piper = MockConfigEntry(
        domain=DOMAIN,
        unique_id=f"wyoming://{piper_server.host}:{piper_server.port}",
        data={KIND: KIND_WYOMING, HOST: piper_server.host, PORT: piper_server.port},
    )
    whisper = MockConfigEntry(
        domain=DOMAIN,
        unique_id=f"wyoming://{whisper_server.host}:{whisper_server.port}",
        data={KIND: KIND_WYOMING, HOST: whisper_server.host, PORT: whisper_server.port},
    )
    piper.add_to_hass(hass)
    whisper.add_to_hass(hass)

    result = await piper.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {HOST: "127.0.0.1", PORT: closed_port()}
    )
    assert result["errors"] == {"base": "cannot_connect"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {HOST: whisper_server.host, PORT: whisper_server.port}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert piper.data[PORT] == piper_server.port


async def test_diagnostics_never_contain_the_api_key(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, openai_server: FakeOpenAIServer
) -> None:
    entry = _openai_entry(openai_server, openai_server.api_key)
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.LOADED

    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert openai_server.api_key not in json.dumps(diagnostics)
    assert diagnostics["data"][API_KEY] == "**REDACTED**"
    assert diagnostics["data"][BASE_URL] == openai_server.base_url
    assert diagnostics["connection"]["models"] == sorted(openai_server.models)
