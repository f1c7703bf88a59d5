"""The costs dashboard of the documentation (docs/dashboards/costs.yaml), pasted into a real
Home Assistant with its recorder, shown in the real frontend: every card renders.

The house here has no satellite, so the file's endpoint sensors are renamed to the agent
profile's (as the file tells a user to rename them to theirs). Today's figures come from real
turns through the fake cloud; the two weeks before are imported into the recorder's statistics
(a varied household-day cost), so the bars have a history to show. The screenshot is the one
docs/voice-tiers-and-budgets.md shows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
import json
import math
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, expect
import pytest
import pytest_asyncio
import pytest_socket
import yaml

from scripts.hassctl import HassProcess, chain_options, free_port
from tests.browser.conftest import ONBOARDED_BUT_USER, VIEWPORT
from tests.browser.ui import ROOT, HassUI, fetched_from_internet, offline
from tests.fakes.openai_server import FakeOpenAIServer, Reply

pytestmark = pytest.mark.asyncio(loop_scope="session")  # Playwright's loop (conftest.py)

DASHBOARD = ROOT / "docs" / "dashboards" / "costs.yaml"
#: The file's example sensors, renamed to this house's (no endpoint here: the agent profile's).
RENAMED = {
    "sensor.kitchen_cost_": "sensor.anima_assistant_cost_",
    "name: Kitchen": "name: Assistant",
}
DAILY = 0.057  # what the household benchmark's day costs with Anima's defaults (USD)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def costs_hass(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[HassProcess]:
    """A Home Assistant with its recorder (statistics) and Anima, onboarded but for its user."""
    pytest_socket.enable_socket()
    config_dir = tmp_path_factory.mktemp("costs_hass") / "config"
    (config_dir / ".storage").mkdir(parents=True)
    (config_dir / ".storage" / "onboarding").write_text(json.dumps(ONBOARDED_BUT_USER))
    async with HassProcess(
        config_dir, port=free_port(), start_timeout=240, extra_config="recorder:\nhistory:\n"
    ) as hass:
        yield hass
        pytest_socket.enable_socket()


async def _house(hass: HassProcess, cloud: FakeOpenAIServer) -> None:
    """An OpenAI connection (the fake cloud), the hub with an agent, and a few real turns."""
    assert cloud.api_key is not None
    await hass.config_flow(
        "anima",
        [
            {"next_step_id": "openai_compatible"},
            {"preset": "openai"},
            {"base_url": cloud.base_url, "api_key": cloud.api_key},
        ],
    )
    await hass.config_flow("anima", [{"next_step_id": "hub"}])
    hub = next(e for e in await hass.entries("anima") if e.get("supported_subentry_types"))

    def agent(form: dict[str, Any]) -> dict[str, Any]:
        chain = [value for value, label in chain_options(form) if "gpt-4.1-mini" in label][:1]
        return {"name": "Assistant", "chain": chain}

    await hass.subentry_flow(hub["entry_id"], "agent", agent)
    cloud.default_reply = Reply.text("Done.", usage=(4000, 40))
    for text in ("What time is the bin collection?", "Tell me a joke", "Good night"):
        await hass.request(
            "POST",
            "/api/conversation/process",
            {"text": text, "language": "en", "agent_id": "conversation.anima_assistant"},
        )


async def _history(hass: HassProcess) -> None:
    """Two weeks of hourly statistics before today for the sensors the graphs show."""
    state = await hass.request("GET", "/api/states/sensor.anima_cost_today")
    unit = state["attributes"]["unit_of_measurement"]
    shares = {"sensor.anima_cost_today": 1.0, "sensor.openai_cost_today": 1.0}
    shares |= {"sensor.anima_assistant_cost_today": 0.8, "sensor.anima_cost_this_month": 1.0}
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    for statistic_id, share in shares.items():
        rows, total = [], 0.0
        for hour in range(14 * 24, 0, -1):
            start = midnight - timedelta(hours=hour)
            day = (midnight - start).days
            if start.hour in (7, 8, 12, 18, 19, 20, 21):  # when the house talks
                total += share * DAILY * (1 + 0.4 * math.sin(day)) / 7
            reset = start.replace(hour=0) if "today" in statistic_id else start.replace(day=1)
            rows.append(
                {
                    "start": start.isoformat(),
                    "state": round(total, 6),
                    "sum": round(total, 6),
                    "last_reset": reset.replace(minute=0).isoformat(),
                }
            )
        await hass.websocket(
            {
                "type": "recorder/import_statistics",
                "metadata": {
                    "has_sum": True,
                    "mean_type": 0,
                    "name": None,
                    "source": "recorder",
                    "statistic_id": statistic_id,
                    "unit_class": None,
                    "unit_of_measurement": unit,
                },
                "stats": rows,
            }
        )


async def test_the_costs_dashboard_renders_every_card(
    browser: Browser, costs_hass: HassProcess, ui_openai: FakeOpenAIServer, screenshots: Path
) -> None:
    await _house(costs_hass, ui_openai)
    await _history(costs_hass)
    text = DASHBOARD.read_text()
    for old, new in RENAMED.items():
        text = text.replace(old, new)
    config = yaml.safe_load(text)
    await costs_hass.websocket(
        {
            "type": "lovelace/dashboards/create",
            "url_path": "anima-costs",
            "title": config["title"],
            "mode": "storage",
        }
    )
    await costs_hass.websocket(
        {"type": "lovelace/config/save", "url_path": "anima-costs", "config": config}
    )
    context = await browser.new_context(viewport={**VIEWPORT, "height": 1100}, locale="en-US")
    await context.route(fetched_from_internet(costs_hass.base_url), offline)
    ui = HassUI(await context.new_page(), costs_hass.base_url, screenshots)
    try:
        await ui.log_in(costs_hass.credentials)
        await ui.goto("/anima-costs/costs")
        view = ui.page.locator("hui-masonry-view, hui-sections-view").first
        for card in ("hui-gauge-card", "hui-entities-card", "hui-statistics-graph-card"):
            await expect(ui.page.locator(card).first).to_be_visible()
        await expect(ui.page.locator("hui-gauge-card")).to_have_count(2)
        await expect(ui.page.locator("hui-statistics-graph-card")).to_have_count(3)
        await expect(ui.page.locator("hui-error-card")).to_have_count(0)  # every entity exists
        await expect(ui.page.locator("hui-warning")).to_have_count(0)
        await ui.page.wait_for_timeout(1500)  # the charts draw after their data arrives
        await ui.shot("costs-dashboard", view)
    finally:
        await context.close()
