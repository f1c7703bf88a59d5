"""Home Assistant for the benchmark scenarios: the test suite's harness, run by bench/*.py."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Load Anima from custom_components/."""


@pytest.fixture(autouse=True)
def loopback_sockets(socket_enabled: None) -> None:
    """The simulated providers listen on 127.0.0.1."""


@pytest.fixture(autouse=True)
async def core_integration(hass: HomeAssistant) -> None:
    """Conversation (an Anima dependency) reads the exposure that `homeassistant` sets up."""
    assert await async_setup_component(hass, "homeassistant", {})
