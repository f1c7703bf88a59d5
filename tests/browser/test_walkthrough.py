"""A new user's walk through Anima in Home Assistant's real frontend, in a real browser.

In order: an OpenAI-compatible connection (a wrong address first), a Wyoming connection to the
real Piper, the hub with an agent, a listener and a voice, the hub's options, the endpoint form,
a pipeline of Anima's profiles made preferred, and a question in the Assist dialog answered by
the (fake, wire-faithful) cloud model. Each test asserts what the screen shows and saves the
screenshots the documentation uses; each also runs alone (tests/browser/house.py).
"""

from __future__ import annotations

import json

from playwright.async_api import Locator, expect
import pytest

from custom_components.anima.providers.presets import CUSTOM, PRESETS
from scripts.hassctl import HassProcess, free_port
from tests.browser.house import (
    PROFILE_MODELS,
    ensure_connections,
    ensure_hub,
    ensure_preferred_pipeline,
)
from tests.browser.ui import HA_TEXT, NAMES, HassUI, anima_text
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.fixtures.speech_servers import SpeechServer

pytestmark = pytest.mark.asyncio(loop_scope="session")  # Playwright's loop (conftest.py)

PROFILE_KINDS = ("agent", "listener", "voice")
QUESTION = "What is the capital of France?"
ANSWER = "Paris is the capital of France."


async def _expect_healthy_service_page(ui: HassUI) -> None:
    """A connection's device page, where "Skip and finish" lands: its health sensor reads OK."""
    await ui.page.wait_for_url("**/config/devices/device/**")
    health = ui.entity_row(anima_text("entity.sensor.health.name"))
    await expect(health).to_contain_text(anima_text("entity.sensor.health.state.closed"))


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
    await ui.shot("add-to-anima", ui.dialog)
    await ui.choose_menu("openai_compatible")
    await ui.expect_dialog_title(anima_text("config.step.openai_compatible.title"))
    custom = PRESETS[CUSTOM].name
    await ui.flow.get_by_text(custom, exact=True).click()
    await ui.submit()

    await ui.expect_dialog_title(anima_text("config.step.openai_details.title", preset=custom))
    base_url = ui.textbox(anima_text("config.step.openai_details.data.base_url"))
    await base_url.fill(f"http://127.0.0.1:{free_port()}/v1")  # nothing listens there
    await ui.textbox(anima_text("config.step.openai_details.data.api_key")).fill(ui_openai.api_key)
    await ui.submit()
    await expect(ui.flow).to_contain_text(anima_text("config.error.cannot_connect"))
    await ui.shot("connection-error", ui.dialog)

    await base_url.fill(ui_openai.base_url)
    await ui.submit()
    await expect(ui.flow).to_contain_text(custom)  # the new service, made by its preset
    await ui.skip_naming()
    await _expect_healthy_service_page(ui)
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
    await _expect_healthy_service_page(ui)


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


async def test_the_endpoint_form_offers_the_profiles(
    ui: HassUI, ui_hass: HassProcess, ui_openai: FakeOpenAIServer, piper_session: SpeechServer
) -> None:
    await ensure_hub(ui_hass, ui_openai, piper_session)
    await _open_integration_page(ui)
    strings = "config_subentries.endpoint"
    await ui.page.get_by_role("button", name=anima_text(f"{strings}.initiate_flow.user")).click()
    await ui.expect_dialog_title(anima_text(f"{strings}.step.user.title"))
    for kind in ("agent", "voice"):  # each offers the profile of its kind
        group = json.dumps(anima_text(f"{strings}.step.user.data.{kind}"))
        choice = f"- radiogroup {group}:\n  - radio {json.dumps(NAMES[kind])}"
        await expect(ui.dialog).to_match_aria_snapshot(choice)
    await ui.shot("endpoint-form", ui.dialog)
    await ui.close_dialog()


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
        await ui.page.get_by_role("menuitem", name=NAMES[kind], exact=True).click()
        await expect(detail.get_by_role("button", name=HA_TEXT[picker])).to_contain_text(
            NAMES[kind]
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
