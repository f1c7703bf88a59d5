"""Fixtures for tests of Home Assistant's real frontend in a real, headless Chromium.

One Home Assistant (a `hass` process from .venv-hass, Anima linked from the working tree), one
fake OpenAI-compatible cloud, one Piper, one `anima-satellite` process and one browser serve the
whole session. Their tests
must run in the session's event loop (`pytest.mark.asyncio(loop_scope="session")`):
Playwright's objects belong to the loop that started it.

The browser is Debian's `chromium` (`ANIMA_CHROMIUM` names another); Playwright's own browser
downloads fail offline, and scripts/setup installs both. Screenshots go to `build/screenshots`,
or to `ANIMA_SCREENSHOTS` (`ANIMA_SCREENSHOTS=docs/images` refreshes the documentation's).

Home Assistant's onboarding is stored as done except for its first user, whom hassctl creates
through the onboarding API as usual: the frontend then opens on the login page, and none of the
integrations onboarding adds (weather, radio, translate, shopping list) clutter the pages.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import json
import os
from pathlib import Path
import sys

from playwright.async_api import Browser, async_playwright
import pytest
import pytest_asyncio
import pytest_socket

from scripts.hassctl import HassProcess, free_port
from tests.browser.ui import ROOT, HassUI, fetched_from_internet, offline
from tests.fakes.openai_server import FakeOpenAIServer

BROWSER_DIR = Path(__file__).parent
SATELLITE = Path(sys.executable).parent / "anima-satellite"
#: The satellite's name: Home Assistant's Wyoming integration names its device so.
SATELLITE_NAME = "Kitchen"
CHROMIUM = Path(os.environ.get("ANIMA_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [  # as root (CI) it needs --no-sandbox; offline: no GPU, updates, sync, first run
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AUTOMATIONS = "automation: !include automations.yaml\n"  # as default_config's new install has
VIEWPORT = {"width": 1280, "height": 800}
ONBOARDED_BUT_USER = {  # Home Assistant's onboarding store, version 4
    "version": 4,
    "minor_version": 1,
    "key": "onboarding",
    "data": {"done": ["core_config", "analytics", "integration"]},
}


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker (`-m browser` runs only these tests, `-m "not browser"` skips them)."""
    config.addinivalue_line("markers", "browser: test of the real frontend in a browser")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test in tests/browser as browser."""
    for item in items:
        if BROWSER_DIR in item.path.parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(autouse=True)
def _loopback_sockets(socket_enabled: None) -> None:
    """Let the test open sockets (still to 127.0.0.1 only)."""


@pytest.fixture(autouse=True)
def verify_cleanup() -> None:
    """Replaces the Home Assistant test plugin's check for tasks left behind by a test.

    That check is for tests that run Home Assistant in-process; here it runs in its own process,
    and the session's Playwright connection keeps its reader tasks alive between tests on purpose.
    """


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """Where the tests save their screenshots."""
    path = Path(os.environ.get("ANIMA_SCREENSHOTS", ROOT / "build" / "screenshots"))
    path = path if path.is_absolute() else ROOT / path
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def ui_openai() -> AsyncIterator[FakeOpenAIServer]:
    """The fake OpenAI-compatible cloud the session's connection talks to."""
    pytest_socket.enable_socket()  # session set-up runs inside a test whose sockets are blocked
    async with FakeOpenAIServer() as server:
        yield server


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def ui_hass(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[HassProcess]:
    """A real Home Assistant, onboarded but for its user, with Anima from the working tree."""
    pytest_socket.enable_socket()
    config_dir = tmp_path_factory.mktemp("browser_hass") / "config"
    (config_dir / ".storage").mkdir(parents=True)
    (config_dir / ".storage" / "onboarding").write_text(json.dumps(ONBOARDED_BUT_USER))
    (config_dir / "automations.yaml").write_text("[]\n")  # where the automation editor saves
    async with HassProcess(
        config_dir, port=free_port(), extra_config=AUTOMATIONS, start_timeout=240
    ) as hass:
        yield hass
        pytest_socket.enable_socket()  # for the stop request


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def ui_satellite() -> AsyncIterator[int]:
    """A real `anima-satellite` on loopback with a silent microphone, for Home Assistant's
    Wyoming integration to adopt (tests/browser/house.py): its port."""
    pytest_socket.enable_socket()
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        str(SATELLITE),
        "--name",
        SATELLITE_NAME,
        "--uri",
        f"tcp://127.0.0.1:{port}",
        "--mic-command",
        "sleep 3600",
    )
    try:
        yield port
    finally:
        process.terminate()
        await process.wait()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    """Headless Chromium, driven by Playwright."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"No browser at {CHROMIUM}: run scripts/setup (or set ANIMA_CHROMIUM)")
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def ui(browser: Browser, ui_hass: HassProcess, screenshots: Path) -> AsyncIterator[HassUI]:
    """A browser page logged in to `ui_hass` through its login page, as the dev user."""
    context = await browser.new_context(viewport=VIEWPORT, locale="en-US")
    await context.route(fetched_from_internet(ui_hass.base_url), offline)
    hass_ui = HassUI(await context.new_page(), ui_hass.base_url, screenshots)
    await hass_ui.log_in(ui_hass.credentials)
    yield hass_ui
    await context.close()
