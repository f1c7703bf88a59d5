"""Fixtures for tests that run Anima inside pytest-homeassistant-custom-component's `hass`."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load Anima from custom_components/ in every test here."""


@pytest.fixture(autouse=True)
def loopback_sockets(socket_enabled: None) -> None:
    """These tests talk to real servers; pytest-socket still limits them to 127.0.0.1."""


@pytest.fixture(autouse=True)
async def core_integration(hass: HomeAssistant) -> None:
    """Set up `homeassistant` first: conversation (an Anima dependency) reads its exposure."""
    assert await async_setup_component(hass, "homeassistant", {})
