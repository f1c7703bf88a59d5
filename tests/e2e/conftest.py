"""Fixtures for end-to-end tests against a real `hass` process (.venv-hass, see scripts/setup).

pytest-homeassistant-custom-component is active in this session. Its `hass` fixture is not for
these tests (Home Assistant runs in its own process here), and its pytest_runtest_setup hook
blocks every non-Unix socket for each test (pytest-socket's `disable_socket`, with connections
limited to 127.0.0.1). The `enable_socket` marker cannot undo that (pytest-socket's hook runs
before phcc's); the `socket_enabled` fixture can (fixtures run after the hooks), and it is
autouse here. Session fixtures are set up before it, so `real_hass` lifts the block itself.
Connections stay limited to 127.0.0.1, which is all these tests use.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator
from contextlib import suppress
from pathlib import Path

import pytest
import pytest_asyncio
import pytest_socket

from scripts.hassctl import LOG_FILE, HassHTTPError, HassProcess, free_port

E2E_DIR = Path(__file__).parent
HASS_LOG = pytest.StashKey[tuple[Path, int]]()  # the log file and its size when the test began


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker (`-m e2e` runs only these tests, `-m "not e2e"` skips them)."""
    config.addinivalue_line("markers", "e2e: end-to-end test against a real Home Assistant")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test in tests/e2e as e2e."""
    for item in items:
        if E2E_DIR in item.path.parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(autouse=True)
def _loopback_sockets(socket_enabled: None) -> None:
    """Let the test open sockets (still to 127.0.0.1 only)."""


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def real_hass(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[HassProcess]:
    """A real Home Assistant, onboarded, RUNNING, with Anima linked from the working tree.

    Shared by the whole session; tests use it through `anima_hass`, which cleans up after them.
    """
    pytest_socket.enable_socket()  # the test whose set-up starts this one had them blocked
    config_dir = tmp_path_factory.mktemp("real_hass") / "config"
    async with HassProcess(config_dir, port=free_port(), start_timeout=240) as hass:
        yield hass
        pytest_socket.enable_socket()  # for the stop request, whatever state the last test left


@pytest_asyncio.fixture
async def anima_hass(
    real_hass: HassProcess, request: pytest.FixtureRequest
) -> AsyncIterator[HassProcess]:
    """The shared Home Assistant, for one test: removes the entries and open flows it adds.

    A failure report carries what Home Assistant logged during the test.
    """
    log = real_hass.config_dir / LOG_FILE
    request.node.stash[HASS_LOG] = (log, log.stat().st_size)
    before = {entry["entry_id"] for entry in await real_hass.entries("anima")}
    yield real_hass
    for flow_id in real_hass.open_flows:  # an open flow's unique id would block later flows
        with suppress(HassHTTPError):  # 404: gone already
            await real_hass.request("DELETE", f"/api/config/config_entries/flow/{flow_id}")
    real_hass.open_flows.clear()
    for entry in await real_hass.entries("anima"):
        if entry["entry_id"] not in before:
            path = f"/api/config/config_entries/entry/{entry['entry_id']}"
            await real_hass.request("DELETE", path)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item,
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Add the Home Assistant log of a failed test's time to its report."""
    report = yield
    if report.failed and (logged := item.stash.get(HASS_LOG, None)):
        log, offset = logged
        with log.open("rb") as file:
            file.seek(offset)
            text = file.read().decode(errors="replace")
        report.sections.append((f"Home Assistant log ({log})", text[-30_000:]))
    return report
