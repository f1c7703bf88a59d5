"""A new user's walk through Anima in Home Assistant's real frontend, in a real browser.

In order: an OpenAI connection (a wrong address first), a Wyoming connection to the real Piper,
the hub with an agent, a listener and a voice, the hub's options, an endpoint bound from a real
`anima-satellite` that Home Assistant's Wyoming integration adopted, a pipeline of Anima's
profiles made preferred, and a question in the Assist dialog answered by the (fake,
wire-faithful) cloud model. Each test asserts what the screen shows (titles, labels, errors, the
names of connections, devices and entities) and saves the screenshots the documentation uses;
each also runs alone (tests/browser/house.py).
"""

from __future__ import annotations

import json
import re

from playwright.async_api import Locator, expect
import pytest

from custom_components.anima.providers.presets import PRESETS
from scripts.hassctl import HassProcess, free_port
from tests.browser.conftest import SATELLITE_NAME
from tests.browser.house import (
    PROFILE_MODELS,
    adopted_satellite,
    ensure_adopted,
    ensure_connections,
    ensure_hub,
    ensure_preferred_pipeline,
)
from tests.browser.ui import HA_TEXT, NAMES, HassUI, anima_text, shown
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.fixtures.speech_servers import SpeechServer

pytestmark = pytest.mark.asyncio(loop_scope="session")  # Playwright's loop (conftest.py)

PROFILE_KINDS = ("agent", "listener", "voice")
QUESTION = "What is the capital of France?"
ANSWER = "Paris is the capital of France."


async def _expect_healthy_service_page(ui: HassUI, title: str) -> None:
    """A connection's device page, where "Skip and finish" lands: named `title`, its health
    sensor reads OK."""
    await ui.page.wait_for_url("**/config/devices/device/**")
    await expect(ui.page.get_by_text(title, exact=True).first).to_be_visible()  # the page title
    health = ui.entity_row(anima_text("entity.sensor.health.name"))
    await expect(health).to_contain_text(anima_text("entity.sensor.health.state.closed"))


async def _expect_on_one_line(target: Locator) -> None:
    """The text is shown whole: it fits in the boxes that would cut it off (with an ellipsis)."""
    cut = await target.evaluate(
        """e => {
            const range = document.createRange();
            range.selectNodeContents(e);
            const text = range.getBoundingClientRect();
            for (let n = e; n; n = n.assignedSlot || n.parentElement || n.getRootNode().host) {
                const style = getComputedStyle(n);
                if (style.overflowX !== "visible" || style.textOverflow === "ellipsis") {
                    const box = n.getBoundingClientRect();
                    if (text.right > box.right + 1) return true;
                }
            }
            return false;
        }"""
    )
    assert not cut, await target.inner_text()


async def _open_integration_page(ui: HassUI) -> None:
    await ui.goto("/config/integrations/integration/anima")
    agent = anima_text("config_subentries.agent.initiate_flow.user")
    await expect(ui.page.get_by_role("button", name=agent)).to_be_visible()


def _hub_row(ui: HassUI) -> Locator:
    return ui.page.locator("ha-config-entry-row").filter(
        has_text=anima_text("config_subentries.agent.entry_type")
    )


async def test_an_openai_connection_shows_a_wrong_address_then_connects(
    ui: HassUI, ui_openai: FakeOpenAIServer
) -> None:
    assert ui_openai.api_key is not None
    await ui.start_anima_flow()
    for option in ("openai_compatible", "wyoming", "hub"):
        label = anima_text(f"config.step.user.menu_options.{option}")
        await _expect_on_one_line(ui.flow.get_by_text(label, exact=True))
    await ui.shot("add-to-anima", ui.dialog)
    await ui.choose_menu("openai_compatible")
    await ui.expect_dialog_title(anima_text("config.step.openai_compatible.title"))
    for preset in PRESETS.values():
        await _expect_on_one_line(ui.flow.get_by_text(preset.name, exact=True))
    openai = PRESETS["openai"].name
    await ui.flow.get_by_text(openai, exact=True).click()
    await ui.submit()

    # The base URL of a proxy in front of OpenAI, mistyped first.
    await ui.expect_dialog_title(anima_text("config.step.openai_details.title", preset=openai))
    base_url = ui.textbox(anima_text("config.step.openai_details.data.base_url"))
    await base_url.fill(f"http://127.0.0.1:{free_port()}/v1")  # nothing listens there
    await ui.textbox(anima_text("config.step.openai_details.data.api_key")).fill(ui_openai.api_key)
    await ui.submit()
    await expect(ui.flow).to_contain_text(anima_text("config.error.cannot_connect"))
    await ui.shot("connection-error", ui.dialog)

    await base_url.fill(ui_openai.base_url)
    await ui.submit()
    await ui.skip_naming()
    await _expect_healthy_service_page(ui, openai)  # a cloud is titled by its name alone
    cards = []
    for sensor in ("cost_day", "cost_month", "health"):
        row = ui.entity_row(anima_text(f"entity.sensor.{sensor}.name"))
        await expect(row).to_be_visible()
        cards.append(ui.page.locator("ha-card").filter(has=row))
    await ui.shot("connection-sensors", *cards)


async def test_a_wyoming_connection_to_piper(ui: HassUI, piper_session: SpeechServer) -> None:
    await ui.start_anima_flow()
    await ui.choose_menu("wyoming")
    await ui.expect_dialog_title(anima_text("config.step.wyoming.title"))
    await ui.textbox(anima_text("config.step.wyoming.data.host")).fill(piper_session.host)
    port = ui.flow.get_by_role("spinbutton", name=anima_text("config.step.wyoming.data.port"))
    await port.fill(str(piper_session.port))
    await ui.shot("wyoming-form", ui.dialog)
    await ui.submit()
    await ui.skip_naming()
    await _expect_healthy_service_page(ui, f"Piper on {piper_session.host}:{piper_session.port}")
    await expect(ui.page.get_by_text("Wyoming text-to-speech (Piper)").first).to_be_visible()
    # A local voice costs nothing: no cost sensors on its page (they are there to enable).
    await expect(ui.entity_row(anima_text("entity.sensor.cost_day.name"))).to_have_count(0)


async def test_the_hub_and_its_agent_listener_and_voice(
    ui: HassUI, ui_hass: HassProcess, ui_openai: FakeOpenAIServer, piper_session: SpeechServer
) -> None:
    await ensure_connections(ui_hass, ui_openai, piper_session)
    await ui.start_anima_flow()
    await ui.choose_menu("hub")
    await ui.skip_naming()

    await _open_integration_page(ui)
    for kind in PROFILE_KINDS:
        strings = f"config_subentries.{kind}"
        await ui.page.get_by_role(
            "button", name=anima_text(f"{strings}.initiate_flow.user")
        ).click()
        await ui.expect_dialog_title(anima_text(f"{strings}.step.user.title"))
        await ui.textbox(anima_text(f"{strings}.step.user.data.name")).fill(NAMES[kind])
        chain = anima_text(f"{strings}.step.user.data.chain")
        await ui.add_to_chain(chain, PROFILE_MODELS[kind])
        await ui.shot(f"{kind}-form", ui.dialog)
        await ui.submit()
        await ui.finish_success()

    hub = _hub_row(ui)
    for kind in PROFILE_KINDS:
        await expect(hub).to_contain_text(NAMES[kind])
        await expect(hub).to_contain_text(anima_text(f"config_subentries.{kind}.entry_type"))
    await ui.shot("profiles", hub)


async def test_the_hubs_options_open_and_save(
    ui: HassUI, ui_hass: HassProcess, ui_openai: FakeOpenAIServer, piper_session: SpeechServer
) -> None:
    await ensure_hub(ui_hass, ui_openai, piper_session)
    await _open_integration_page(ui)
    await _hub_row(ui).get_by_role("button", name=HA_TEXT["configure"]).first.click()
    await ui.expect_dialog_title(anima_text("options.step.init.title"))
    for field in ("house_daily", "house_monthly", "currency"):
        await expect(ui.flow).to_contain_text(anima_text(f"options.step.init.data.{field}"))
    await ui.shot("hub-options", ui.dialog)
    await ui.submit()
    await ui.finish_success()


async def test_an_adopted_satellite_becomes_an_endpoint(
    ui: HassUI,
    ui_hass: HassProcess,
    ui_openai: FakeOpenAIServer,
    piper_session: SpeechServer,
    ui_satellite: int,
) -> None:
    await ensure_hub(ui_hass, ui_openai, piper_session)
    await _open_integration_page(ui)
    strings = "config_subentries.endpoint"
    await ui.page.get_by_role("button", name=anima_text(f"{strings}.initiate_flow.user")).click()
    if await adopted_satellite(ui_hass) is None:  # nothing can be an endpoint yet: it says so
        await ui.expect_dialog_title(anima_text(f"{strings}.step.needs_device.title"))
        await ensure_adopted(ui_hass, ui_satellite)  # Home Assistant adopts the satellite
        await ui.flow.get_by_role(
            "button", name=anima_text(f"{strings}.step.needs_device.submit")
        ).click()
    await ui.expect_dialog_title(anima_text(f"{strings}.step.user.title"))

    # The picker offers the satellite, and none of Anima's own devices.
    label = anima_text(f"{strings}.step.user.data.device_id")
    device = ui.flow.get_by_role("button", name=re.compile(f"^{label}"))
    await device.click()
    offered = ui.page.get_by_role("menuitem")  # the open menu's (the others are hidden)
    await expect(offered).to_have_text([SATELLITE_NAME])
    await offered.first.click()
    for kind in ("agent", "voice"):  # each offers the profile of its kind
        group = json.dumps(anima_text(f"{strings}.step.user.data.{kind}"))
        choice = f"- radiogroup {group}:\n  - radio {json.dumps(NAMES[kind])}"
        await expect(ui.dialog).to_match_aria_snapshot(choice)
    await ui.shot("endpoint-form", ui.dialog)
    await ui.submit()  # with neither an agent nor a voice
    await expect(ui.flow).to_contain_text(anima_text(f"{strings}.error.agent_or_voice_required"))
    await ui.flow.get_by_role("radio", name=NAMES["voice"], exact=True).last.click()
    await ui.submit()
    await ui.finish_success()

    hub = _hub_row(ui)
    await expect(hub).to_contain_text(SATELLITE_NAME)
    await expect(hub).to_contain_text(anima_text(f"{strings}.entry_type"))


async def test_the_anima_pipeline_becomes_preferred(
    ui: HassUI, ui_hass: HassProcess, ui_openai: FakeOpenAIServer, piper_session: SpeechServer
) -> None:
    await ensure_hub(ui_hass, ui_openai, piper_session)
    await ui.goto("/config/voice-assistants/assistants")
    await ui.page.get_by_role("button", name=HA_TEXT["add_assistant"]).click()
    detail = ui.page.locator("dialog-voice-assistant-pipeline-detail")
    await detail.get_by_role("textbox", name=HA_TEXT["assistant_name"]).fill(NAMES["pipeline"])
    for picker, kind in (
        ("conversation_agent", "agent"),
        ("speech_to_text", "listener"),
        ("text_to_speech", "voice"),
    ):
        await detail.get_by_role("button", name=HA_TEXT[picker]).click()
        # Listed among other integrations' agents and voices as Anima's: "Anima Voice".
        await ui.page.get_by_role("menuitem", name=shown(kind), exact=True).click()
        await expect(detail.get_by_role("button", name=HA_TEXT[picker])).to_contain_text(
            shown(kind)
        )
    await ui.shot("pipeline-form", detail.get_by_role("dialog"))
    await detail.get_by_role("button", name=HA_TEXT["create"]).click()
    await expect(detail.get_by_role("dialog")).to_have_count(0)

    ours = ui.page.get_by_role("listitem").filter(
        has=ui.page.get_by_text(NAMES["pipeline"], exact=True)
    )
    set_preferred = ui.page.get_by_role("menuitem", name=HA_TEXT["set_preferred"])
    await ours.get_by_role("button").last.click()  # its menu
    await set_preferred.click()
    await expect(set_preferred).to_be_hidden()
    await expect(ours.locator("[slot=headline] ha-svg-icon")).to_be_visible()  # the star
    await ui.shot("pipeline", ui.page.locator("ha-card").filter(has=ours))
    await ours.get_by_role("button").last.click()
    await expect(set_preferred).to_be_disabled()  # it is the preferred one already
    await ui.page.keyboard.press("Escape")


async def test_the_assist_dialog_answers_with_the_model(
    ui: HassUI, ui_hass: HassProcess, ui_openai: FakeOpenAIServer, piper_session: SpeechServer
) -> None:
    await ensure_preferred_pipeline(ui_hass, ui_openai, piper_session, NAMES["pipeline"])
    await ui.goto("/")
    await ui.page.get_by_role("button", name=HA_TEXT["assist"]).click()
    assist = ui.page.locator("ha-voice-command-dialog")
    await expect(assist).to_contain_text(NAMES["pipeline"])  # the preferred pipeline

    ui_openai.reply(Reply.text(ANSWER))
    await assist.get_by_role("textbox", name=HA_TEXT["enter_request"]).fill(QUESTION)
    await ui.page.keyboard.press("Enter")
    answer = assist.locator(".message.hass").last  # the assistant's bubble
    await expect(answer).to_have_text(ANSWER)
    request = ui_openai.requests[-1].json
    assert request["model"] == PROFILE_MODELS["agent"]
    assert QUESTION in str(request["messages"][-1]["content"])
    await ui.shot("assist", assist.get_by_role("dialog"))
    await ui.close_dialog(assist)
