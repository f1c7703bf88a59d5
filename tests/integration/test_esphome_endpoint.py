"""An ESPHome board as an endpoint: a real ESPHome device (ESPHome's `host` platform, compiled
here with the system's g++) adopted through Home Assistant's own esphome config flow; Anima's
`play_earcon` reaches the board's `play_earcon` action over the native API.

The board declares the action as `firmware/esphome/packages/anima-endpoint.yaml` does (a
`name` string; tests/firmware checks the package). The host platform has no speaker, so the
board logs the earcon it was asked to play. Home Assistant's esphome integration depends on
bluetooth; this machine has no Bluetooth adapter, so phcc's `mock_bluetooth` stands in for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
import subprocess

from homeassistant import config_entries
from homeassistant.components import zeroconf as zeroconf_component
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr
from homeassistant.setup import async_setup_component
import pytest
import pytest_asyncio

from custom_components.anima.const import DOMAIN
from scripts.hassctl import free_port
from tests.firmware.test_esphome import ESPHOME
from tests.integration.anima_setup import add_hub, endpoint

NODE = """\
esphome:
  name: kitchen-node
host:
api:
  port: {port}
  actions:
    - action: play_earcon
      variables:
        name: string
      then:
        - logger.log:
            format: "anima earcon %s"
            args: [name.c_str()]
logger:
"""


@pytest.fixture
def esphome_node(tmp_path: Path, socket_enabled: None) -> tuple[Path, int]:
    """The node, compiled: its program and the port its native API listens on."""
    folder = tmp_path / "esphome-node"
    folder.mkdir()
    port = free_port()
    (folder / "node.yaml").write_text(NODE.format(port=port))
    built = subprocess.run(
        [str(ESPHOME), "compile", "node.yaml"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    (program,) = folder.glob(".esphome/build/kitchen-node/.pioenvs/kitchen-node/program")
    return program, port


@pytest_asyncio.fixture
async def running_node(
    esphome_node: tuple[Path, int], tmp_path: Path
) -> AsyncIterator[tuple[int, Path]]:
    """The node running; its port and its log file."""
    program, port = esphome_node
    log = tmp_path / "node.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            str(program), stdout=out, stderr=subprocess.STDOUT
        )
    try:
        async with asyncio.timeout(20):
            while b"api" not in log.read_bytes():
                await asyncio.sleep(0.1)
        yield port, log
    finally:
        process.terminate()
        await process.wait()


@pytest.fixture
def zeroconf_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """Home Assistant's shared zeroconf instance (esphome asks for it) would rewire the
    `zeroconf.Zeroconf` class for the whole process; later tests announce services of their own.
    """
    monkeypatch.setattr(zeroconf_component, "install_multiple_zeroconf_catcher", lambda _: None)


async def test_play_earcon_reaches_an_esphome_boards_own_action(
    hass: HomeAssistant,
    running_node: tuple[int, Path],
    mock_bluetooth: None,
    zeroconf_left_alone: None,
) -> None:
    port, log = running_node
    assert await async_setup_component(hass, "homeassistant", {})
    adopted = await hass.config_entries.flow.async_init(
        "esphome",
        context={"source": config_entries.SOURCE_USER},
        data={"host": "127.0.0.1", "port": port},
    )
    assert adopted["type"] is FlowResultType.CREATE_ENTRY, adopted
    devices = dr.async_get(hass)
    async with asyncio.timeout(60):  # connected (Home Assistant retries a refused first try)
        while not (
            boards := dr.async_entries_for_config_entry(devices, adopted["result"].entry_id)
        ):
            await asyncio.sleep(0.2)
    (board,) = boards
    await add_hub(hass, endpoint("Kitchen", board.id))
    await hass.async_block_till_done()

    await hass.services.async_call(
        DOMAIN, "play_earcon", {"device_id": board.id, "earcon": "notify"}, blocking=True
    )
    async with asyncio.timeout(10):
        while b"anima earcon notify" not in log.read_bytes():
            await asyncio.sleep(0.1)
