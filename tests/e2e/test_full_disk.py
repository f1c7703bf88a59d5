"""A disk that refuses the ledger's saves: Home Assistant keeps answering, says so once, and a
kill before the disk recovers loses no finished turn (a real `hass`, a real failing write)."""

from __future__ import annotations

import asyncio
from pathlib import Path
import time

from scripts.hassctl import LOG_FILE, HassProcess, free_port
from tests.e2e.assistant import add_assistant, ask, cost_today
from tests.e2e.test_smoke import wait_for_state
from tests.fakes.openai_server import FakeOpenAIServer, Reply

#: What Anima logs when the store refuses a save, and what Home Assistant's storage helper
#: logs when it swallowed the refusal.
FAILED = ("Saving the cost ledger failed", "Error writing config for anima.ledger")


async def test_a_refused_save_loses_no_turn_and_is_said_once(
    tmp_path: Path, openai_server: FakeOpenAIServer
) -> None:
    hass = HassProcess(tmp_path / "config", port=free_port(), start_timeout=240)
    store = hass.config_dir / ".storage" / "anima.ledger"
    aside = store.with_name("anima.ledger.aside")
    async with hass:
        hub = await add_assistant(hass, openai_server)
        await _turn(hass, openai_server)
        if store.exists():  # saved already: keep what it holds for after the disk recovers
            store.rename(aside)
        store.mkdir()  # the store's file cannot be written now: every save fails
        for _ in range(3):
            await _turn(hass, openai_server)
        await _logged(hass, FAILED, timeout=30)  # the ledger's save came and failed
        assert await _turn(hass, openai_server) == "Hello."  # still answering
        spent = await cost_today(hass)
        hass.kill()  # SIGKILL before the disk recovers: no shutdown, no save
    store.rmdir()
    if aside.exists():
        aside.rename(store)
    async with hass:
        await wait_for_state(hass, hub, "loaded")
        assert await cost_today(hass) == spent  # all five turns
    log = (hass.config_dir / LOG_FILE).read_text(errors="replace")
    assert log.count(FAILED[0]) == 1, "one line for the streak of failed saves"
    assert "Traceback" not in log


async def _turn(hass: HassProcess, server: FakeOpenAIServer) -> str:
    server.reply(Reply.text("Hello.", usage=(1200, 300)))
    return await ask(hass)


async def _logged(hass: HassProcess, texts: tuple[str, ...], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not any(
        text in (hass.config_dir / LOG_FILE).read_text(errors="replace") for text in texts
    ):
        assert time.monotonic() < deadline, f"none of {texts} logged in {timeout} s"
        await asyncio.sleep(0.5)
