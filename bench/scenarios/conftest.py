"""Home Assistant for the benchmark scenarios: the integration tests' harness, run by bench/*.py."""

import pytest

from tests.fixtures.openai_fixtures import openai_server  # noqa: F401 - fixtures found by name
from tests.fixtures.speech_servers import (  # noqa: F401
    formant_server,
    formant_session,
    piper_server,
    piper_session,
)
from tests.integration.conftest import (  # noqa: F401
    auto_enable_custom_integrations,
    core_integration,
    loopback_sockets,
)


@pytest.fixture
def hass_config_dir(hass_tmp_config_dir: str) -> str:
    """Each scenario's Home Assistant in a config dir of its own (Anima journals its ledger
    there): not the test plugin's shared one, where every run's journal would be replayed."""
    return hass_tmp_config_dir
