"""Fixtures shared by the whole suite."""

import pytest

pytest_plugins = [
    "tests.fixtures.local_llm",
    "tests.fixtures.openai_fixtures",
    "tests.fixtures.speech_servers",
]


@pytest.fixture
def hass_config_dir(hass_tmp_config_dir: str) -> str:
    """Give each test's Home Assistant a config dir of its own (Anima journals its ledger there)."""
    return hass_tmp_config_dir
