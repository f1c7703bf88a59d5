"""Home Assistant for the benchmark scenarios: the integration tests' harness, run by bench/*.py."""

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
