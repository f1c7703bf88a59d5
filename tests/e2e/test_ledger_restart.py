"""The cost ledger survives a Home Assistant restart: what was spent today is still there."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.hassctl import HassProcess, free_port
from tests.e2e.assistant import add_assistant, ask, cost_today
from tests.e2e.test_smoke import wait_for_state
from tests.fakes.openai_server import FakeOpenAIServer, Reply


async def test_spending_recorded_before_a_restart_is_there_after_it(
    tmp_path: Path, openai_server: FakeOpenAIServer
) -> None:
    hass = HassProcess(tmp_path / "config", port=free_port(), start_timeout=240)
    async with hass:
        hub = await add_assistant(hass, openai_server)
        openai_server.reply(Reply.text("Hello.", usage=(1200, 300)))
        await ask(hass)
        spent = await cost_today(hass)
        assert float(spent) > 0
    # `async with` stopped Home Assistant the way a user's restart does; start it again.
    async with hass:
        await wait_for_state(hass, hub, "loaded")
        assert await cost_today(hass) == spent


async def test_a_killed_home_assistant_keeps_every_finished_turn(
    tmp_path: Path, openai_server: FakeOpenAIServer
) -> None:
    """SIGKILL right after three answers, long before the ledger's next save is due."""
    hass = HassProcess(tmp_path / "config", port=free_port(), start_timeout=240)
    async with hass:
        hub = await add_assistant(hass, openai_server)
        # A first turn, then a clean restart: the store holds it; the next ones only the journal.
        await _turn(hass, openai_server)
        first = await cost_today(hass)
    async with hass:
        await wait_for_state(hass, hub, "loaded")
        for _ in range(3):
            await _turn(hass, openai_server)
        spent = await cost_today(hass)
        assert float(spent) == pytest.approx(4 * float(first))
        hass.kill()  # SIGKILL: no shutdown, no save
    async with hass:
        await wait_for_state(hass, hub, "loaded")
        assert await cost_today(hass) == spent


async def _turn(hass: HassProcess, server: FakeOpenAIServer) -> None:
    server.reply(Reply.text("Hello.", usage=(1200, 300)))
    await ask(hass)
