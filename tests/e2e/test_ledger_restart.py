"""The cost ledger survives a Home Assistant restart: what was spent today is still there."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.hassctl import HassProcess, chain_options, free_port
from tests.e2e.test_smoke import wait_for_state
from tests.fakes.openai_server import FakeOpenAIServer, Reply


async def _cost_today(hass: HassProcess) -> str:
    state = await hass.request("GET", "/api/states/sensor.anima_cost_today")
    return str(state["state"])


async def test_spending_recorded_before_a_restart_is_there_after_it(
    tmp_path: Path, openai_server: FakeOpenAIServer
) -> None:
    assert openai_server.api_key is not None
    hass = HassProcess(tmp_path / "config", port=free_port(), start_timeout=240)
    async with hass:
        cloud = await hass.config_flow(
            "anima",
            [
                {"next_step_id": "openai_compatible"},
                {"preset": "openai"},
                {"base_url": openai_server.base_url, "api_key": openai_server.api_key},
            ],
        )
        hub = await hass.config_flow("anima", [{"next_step_id": "hub"}])
        await wait_for_state(hass, cloud["result"]["entry_id"], "loaded")
        await wait_for_state(hass, hub["result"]["entry_id"], "loaded")

        def agent(form: dict[str, object]) -> dict[str, object]:
            chain = [value for value, label in chain_options(form) if "gpt-4.1-mini" in label]
            return {"name": "Assistant", "chain": chain}

        await hass.subentry_flow(hub["result"]["entry_id"], "agent", agent)
        await wait_for_state(hass, hub["result"]["entry_id"], "loaded")
        openai_server.reply(Reply.text("Hello.", usage=(1200, 300)))
        await hass.request(
            "POST",
            "/api/conversation/process",
            {"text": "Hello", "agent_id": "conversation.anima_assistant"},
        )
        spent = await _cost_today(hass)
        assert float(spent) > 0
    # `async with` stopped Home Assistant the way a user's restart does; start it again.
    async with hass:
        await wait_for_state(hass, hub["result"]["entry_id"], "loaded")
        assert await _cost_today(hass) == spent


async def test_a_killed_home_assistant_keeps_every_finished_turn(
    tmp_path: Path, openai_server: FakeOpenAIServer
) -> None:
    """SIGKILL right after three answers, long before the ledger's next save is due."""
    assert openai_server.api_key is not None
    hass = HassProcess(tmp_path / "config", port=free_port(), start_timeout=240)
    async with hass:
        cloud = await hass.config_flow(
            "anima",
            [
                {"next_step_id": "openai_compatible"},
                {"preset": "openai"},
                {"base_url": openai_server.base_url, "api_key": openai_server.api_key},
            ],
        )
        hub = await hass.config_flow("anima", [{"next_step_id": "hub"}])
        await wait_for_state(hass, cloud["result"]["entry_id"], "loaded")
        await wait_for_state(hass, hub["result"]["entry_id"], "loaded")

        def agent(form: dict[str, object]) -> dict[str, object]:
            chain = [value for value, label in chain_options(form) if "gpt-4.1-mini" in label]
            return {"name": "Assistant", "chain": chain}

        await hass.subentry_flow(hub["result"]["entry_id"], "agent", agent)
        await wait_for_state(hass, hub["result"]["entry_id"], "loaded")
        # A first turn, then a clean restart: the store holds it; the next ones only the journal.
        await _turn(hass, openai_server)
        first = await _cost_today(hass)
    async with hass:
        await wait_for_state(hass, hub["result"]["entry_id"], "loaded")
        for _ in range(3):
            await _turn(hass, openai_server)
        spent = await _cost_today(hass)
        assert float(spent) == pytest.approx(4 * float(first))
        hass.kill()  # SIGKILL: no shutdown, no save
    async with hass:
        await wait_for_state(hass, hub["result"]["entry_id"], "loaded")
        assert await _cost_today(hass) == spent


async def _turn(hass: HassProcess, server: FakeOpenAIServer) -> None:
    server.reply(Reply.text("Hello.", usage=(1200, 300)))
    await hass.request(
        "POST",
        "/api/conversation/process",
        {"text": "Hello", "agent_id": "conversation.anima_assistant"},
    )
