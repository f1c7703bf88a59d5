"""Smoke test: Anima in a real Home Assistant 2026.11, configured only through its REST API."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from scripts.hassctl import HassProcess
from tests.fakes.openai_server import FakeOpenAIServer


def openai_steps(base_url: str, api_key: str) -> list[dict[str, Any]]:
    """The config flow steps for an OpenAI-compatible connection with the custom preset."""
    return [
        {"next_step_id": "openai_compatible"},
        {"preset": "custom"},
        {"base_url": base_url, "api_key": api_key},
    ]


def wyoming_steps(host: str, port: int) -> list[dict[str, Any]]:
    """The config flow steps for a Wyoming connection."""
    return [{"next_step_id": "wyoming"}, {"host": host, "port": port}]


async def wait_for_state(hass: HassProcess, entry_id: str, state: str, timeout: float = 30) -> None:
    """Wait until the entry reaches the state; fail with what it reached instead."""
    deadline = time.monotonic() + timeout
    while True:
        entry = next(e for e in await hass.entries("anima") if e["entry_id"] == entry_id)
        if entry["state"] == state:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"entry {entry['title']!r} is {entry['state']!r}: {entry}")
        await asyncio.sleep(0.2)


async def test_menu_offers_both_provider_kinds_and_the_hub(anima_hass: HassProcess) -> None:
    """The flow starts with a menu of the two kinds of provider connection, and the hub."""
    hass = anima_hass
    result = await hass.config_flow("anima", [])
    assert result["type"] == "menu"
    assert result["step_id"] == "user"
    assert result["menu_options"] == ["openai_compatible", "wyoming", "hub"]


async def test_openai_and_wyoming_connections_load(
    anima_hass: HassProcess, openai_server: FakeOpenAIServer, piper_server: Any
) -> None:
    """An OpenAI-compatible service and the real Piper server become loaded entries."""
    hass = anima_hass
    assert openai_server.api_key is not None
    openai = await hass.config_flow(
        "anima", openai_steps(openai_server.base_url, openai_server.api_key)
    )
    assert openai["type"] == "create_entry", openai
    wyoming = await hass.config_flow("anima", wyoming_steps(piper_server.host, piper_server.port))
    assert wyoming["type"] == "create_entry", wyoming
    assert wyoming["title"] == f"Piper on {piper_server.host}:{piper_server.port}"

    await wait_for_state(hass, openai["result"]["entry_id"], "loaded")
    await wait_for_state(hass, wyoming["result"]["entry_id"], "loaded")
    assert {e["entry_id"]: e["state"] for e in await hass.entries("anima")} == {
        openai["result"]["entry_id"]: "loaded",
        wyoming["result"]["entry_id"]: "loaded",
    }

    again = await hass.config_flow("anima", wyoming_steps(piper_server.host, piper_server.port))
    assert again["type"] == "abort", again
    assert again["reason"] == "already_configured"


async def test_wrong_api_key_shows_invalid_auth(
    anima_hass: HassProcess, openai_server: FakeOpenAIServer
) -> None:
    """A key the service rejects keeps the form open with the invalid_auth error."""
    hass = anima_hass
    before = await hass.entries("anima")
    result = await hass.config_flow("anima", openai_steps(openai_server.base_url, "sk-wrong"))
    assert result["type"] == "form", result
    assert result["step_id"] == "openai_custom"
    assert result["errors"] == {"base": "invalid_auth"}
    assert await hass.entries("anima") == before
