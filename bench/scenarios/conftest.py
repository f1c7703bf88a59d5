"""Home Assistant for the benchmark scenarios: the integration tests' harness, run by bench/*.py."""

from tests.integration.conftest import (  # noqa: F401 - fixtures pytest finds by name
    auto_enable_custom_integrations,
    core_integration,
    loopback_sockets,
)
