"""The walk goes on to devices working together, built in Home Assistant's automation editor.

An endpoint's Anima device offers its triggers and actions in the editor, by their translated
names; an automation made there of a question trigger and an announce action is stored as
written and runs when the question is asked on the satellite. Anima's blueprints are imported
through the blueprint dashboard's "Import blueprint" dialog from a URL, as from the repository,
and each opens in the automation editor with its inputs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
import re
from typing import Any

from aiohttp import web
from playwright.async_api import Locator, expect
import pytest
import pytest_asyncio
import yaml

from custom_components.anima.device_action import ACTIONS, CLASSES
from custom_components.anima.device_trigger import TRIGGERS
from scripts.hassctl import HassProcess, free_port
from tests.browser.conftest import SATELLITE_NAME
from tests.browser.house import adopted_satellite, ensure_endpoint
from tests.browser.ui import HA_TEXT, ROOT, HassUI, anima_text
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.fixtures.speech_servers import SpeechServer

pytestmark = pytest.mark.asyncio(loop_scope="session")  # Playwright's loop (conftest.py)

BLUEPRINTS = sorted((ROOT / "blueprints" / "automation" / "anima").glob("*.yaml"))
SENTENCE = "is the [front] door locked"
QUESTION = "Is the front door locked?"
ANNOUNCEMENT = "Someone asked about the front door."
MESSAGE_CLASSES = [anima_text(f"selector.message_class.options.{c}") for c in CLASSES]
COORDINATION = ("announce", "ask_endpoint", "ask_agent", "handoff")


def _endpoint_option(ui: HassUI) -> Locator:
    """The endpoint's Anima device in a device picker (its Wyoming device has the same name)."""
    return ui.page.get_by_role("option", name=re.compile(f"^{SATELLITE_NAME} .*Anima$"))


async def _add_device_automation(ui: HassUI, kind: str) -> Locator:
    """Add trigger/action -> By type -> Device, on the endpoint's device; the element's editor."""
    await ui.page.get_by_role("button", name=HA_TEXT[f"add_{kind}"]).click()
    dialog = ui.page.locator("add-automation-element-dialog")
    await dialog.get_by_role("button", name=HA_TEXT["by_type"]).click()
    await dialog.get_by_role("button", name=HA_TEXT["device"], exact=True).click()
    # The kind's own entry under the group, described in a sentence (not "Device tracker").
    await dialog.get_by_role("button", name=re.compile(f"^{HA_TEXT['device']} [A-Z]")).click()
    await ui.page.get_by_role("button", name=HA_TEXT["select_device"]).click()
    await _endpoint_option(ui).click()
    return ui.page.get_by_role("button", name=re.compile(f"^{HA_TEXT[kind]} "))


async def _choose_among(ui: HassUI, picker: Locator, offered: list[str], chosen: str) -> None:
    """Open the picker, see each of `offered` among its options, choose `chosen`."""
    await picker.click()
    for name in offered:
        await expect(ui.page.get_by_role("option", name=name, exact=True)).to_be_visible()
    await ui.page.get_by_role("option", name=chosen, exact=True).click()


async def test_an_endpoints_triggers_and_actions_make_an_automation_that_runs(
    ui: HassUI,
    ui_hass: HassProcess,
    ui_openai: FakeOpenAIServer,
    piper_session: SpeechServer,
    ui_satellite: int,
) -> None:
    device = await ensure_endpoint(ui_hass, ui_openai, piper_session, ui_satellite)
    await ui.goto("/config/automation/edit/new")

    trigger = await _add_device_automation(ui, "trigger")
    triggers = [anima_text(f"device_automation.trigger_type.{t}") for t in TRIGGERS]
    question = anima_text("device_automation.trigger_type.question_asked")
    await _choose_among(ui, trigger, triggers, question)
    sentence = anima_text("device_automation.extra_fields.sentence")
    await ui.page.get_by_role("textbox", name=sentence).fill(SENTENCE)
    await ui.shot("automation-trigger", ui.page.locator("ha-automation-sidebar"))

    # Anima's actions for devices working together are among the editor's actions.
    await ui.page.get_by_role("button", name=HA_TEXT["add_action"]).click()
    dialog = ui.page.locator("add-automation-element-dialog")
    for service in COORDINATION:
        name = anima_text(f"services.{service}.name")
        await dialog.get_by_placeholder(HA_TEXT["search"]).fill(name)
        await expect(dialog.get_by_role("button", name=f"Anima: {name}").first).to_be_visible()
    await ui.page.keyboard.press("Escape")

    action = await _add_device_automation(ui, "action")
    actions = [anima_text(f"device_automation.action_type.{a}") for a in ACTIONS]
    announce = anima_text("device_automation.action_type.announce")
    await _choose_among(ui, action, actions, announce)
    message = anima_text("device_automation.extra_fields.message")
    class_field = anima_text("device_automation.extra_fields.message_class")
    classes = ui.page.get_by_role("radiogroup", name=class_field)
    await expect(classes).to_be_visible()  # the action's fields are there
    for name in MESSAGE_CLASSES:  # by their names, not their keys
        await expect(ui.page.get_by_role("radio", name=name, exact=True)).to_be_visible()
    await ui.shot("automation-action", ui.page.locator("ha-automation-sidebar"))
    await ui.page.get_by_role("textbox", name=message).fill(ANNOUNCEMENT)

    await ui.page.get_by_role("button", name=HA_TEXT["save"]).click()
    rename = ui.page.locator("ha-dialog").filter(has=ui.page.get_by_role("textbox"))
    await rename.get_by_role("textbox", name=HA_TEXT["required_name"]).fill("Front door question")
    await rename.get_by_role("button", name=HA_TEXT["save"]).click()
    await ui.page.wait_for_url(re.compile(r"/config/automation/edit/(?!new)"))
    automation_id = ui.page.url.rsplit("/", 1)[-1]

    stored = await ui_hass.request("GET", f"/api/config/automation/config/{automation_id}")
    assert stored["triggers"] == [
        {
            "trigger": "device",
            "domain": "anima",
            "device_id": device,
            "type": "question_asked",
            "sentence": SENTENCE,
        }
    ]
    (announce,) = stored["actions"]
    assert (announce["domain"], announce["type"]) == ("anima", "announce")
    assert (announce["device_id"], announce["message"]) == (device, ANNOUNCEMENT)

    # The question asked on the satellite runs it.
    satellite = await adopted_satellite(ui_hass)
    assert satellite is not None
    devices = await ui_hass.websocket({"type": "config/device_registry/list"})
    (bound,) = [d for d in devices if d["primary_config_entry"] == satellite["entry_id"]]
    ui_openai.reply(Reply.text("Yes, it is locked."))
    await ui_hass.websocket(
        {
            "type": "conversation/process",
            "text": QUESTION,
            "agent_id": "conversation.anima_assistant",
            "device_id": bound["id"],
        }
    )
    await _expect_run(ui_hass, automation_id)


async def _expect_run(hass: HassProcess, automation_id: str) -> None:
    """Wait until the automation stored as `automation_id` has run."""
    async with asyncio.timeout(10):
        while True:
            states = await hass.request("GET", "/api/states")
            (ours,) = [s for s in states if s["attributes"].get("id") == automation_id]
            if ours["attributes"].get("last_triggered"):
                return
            await asyncio.sleep(0.1)


@pytest_asyncio.fixture(loop_scope="session")
async def blueprint_site() -> AsyncIterator[str]:
    """The repository's blueprints served over HTTP, as from its raw URLs: the base URL."""
    app = web.Application()
    app.router.add_static("/", BLUEPRINTS[0].parent)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("blueprint", BLUEPRINTS, ids=lambda path: path.stem)
async def test_a_blueprint_imports_and_opens_with_its_inputs(
    ui: HassUI, blueprint: Path, blueprint_site: str
) -> None:
    described: dict[str, Any] = yaml.load(blueprint.read_text(), Loader=_Tags)["blueprint"]
    await ui.goto("/config/blueprint/dashboard")
    await ui.page.get_by_role("button", name=HA_TEXT["import_blueprint"]).click()
    importer = ui.page.locator("ha-dialog-import-blueprint")
    address = importer.get_by_role("textbox", name=HA_TEXT["blueprint_address"])
    await address.fill(f"{blueprint_site}/{blueprint.name}")
    await importer.get_by_role("button", name=HA_TEXT["preview"]).click()
    await expect(importer).to_contain_text(described["name"])
    await importer.get_by_role("button", name=HA_TEXT["import_blueprint"]).click()
    await expect(importer.get_by_role("dialog")).to_have_count(0)

    row = ui.page.get_by_role("row").filter(has_text=described["name"])
    await expect(row).to_be_visible()
    await row.get_by_role("button", name=HA_TEXT["overflow_menu"]).click()
    await ui.page.get_by_role("menuitem", name=HA_TEXT["create_automation"]).click()
    await ui.page.wait_for_url(re.compile(r"/config/automation/edit/new"))
    for field in described["input"].values():
        await expect(ui.page.get_by_text(field["name"], exact=True).first).to_be_visible()
    await ui.shot(f"blueprint-{blueprint.stem}", ui.page.locator("ha-automation-editor"))


class _Tags(yaml.SafeLoader):
    """Reads a blueprint's `!input` tags as plain strings."""


_Tags.add_constructor("!input", lambda loader, node: loader.construct_scalar(node))
