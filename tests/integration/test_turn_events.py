"""Each turn visible: one `anima_turn` event and the endpoint's last-turn sensor, from one
record (the logbook entry made of the same event: test_logbook.py); device triggers on turns and
budgets; the device actions offered (what they do: test_actions.py).

The spoken turn is real end to end: Anima's satellite adopted by Home Assistant's Wyoming
integration, Whisper listening, the fake cloud LLM answering, Piper speaking.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from homeassistant.components import conversation
from homeassistant.components.device_automation import (
    DeviceAutomationType,
    async_get_device_automations,
)
from homeassistant.components.homeassistant.exposed_entities import async_expose_entity
from homeassistant.core import Event, HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.trigger import async_validate_trigger_config
from homeassistant.setup import async_setup_component
import probatio as vol
import pytest
from pytest_homeassistant_custom_component.common import (
    async_capture_events,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator, WebSocketGenerator
from yarl import URL

from anima_satellite.satellite import SatelliteSettings
from anima_satellite.wake import LocalWakeWord
from custom_components.anima.const import (
    CURRENCY,
    DOMAIN,
    EVENT_BUDGET,
    EVENT_QUESTION,
    EVENT_TURN,
    HOUSE_DAILY,
)
from custom_components.anima.core.profiles import PROFILE_AGENT, Link
from custom_components.anima.runtime.data import AnimaData
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.fixtures.speech_servers import SpeechServer
from tests.fixtures.spoken import spoken
from tests.integration.anima_setup import (
    add_hub,
    add_openai,
    anima_pipeline,
    endpoint,
    profile,
    satellite_device,
)
from tests.integration.satellites import adopted, anima_with_pipeline, bind
from tests.integration.typed import AGENT, anima_device, converse, typed_kitchen

QUESTION = "What is the capital of France?"
ANSWER = "Paris is the capital of France."


async def _until(events: list[Event[Any]], count: int = 1) -> None:
    async with asyncio.timeout(60):
        while len(events) < count:
            await asyncio.sleep(0.05)


async def test_a_spoken_turn_is_one_event_and_the_endpoints_last_turn_sensor(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    tmp_path: Path,
    openai_server: FakeOpenAIServer,
    piper_server: SpeechServer,
    whisper_server: SpeechServer,
) -> None:
    hub = await anima_with_pipeline(
        hass, hass_ws_client, openai_server, piper_server, whisper_server, preset="openai"
    )
    openai_server.reply(Reply.text(ANSWER, usage=(1200, 30)))
    questions = async_capture_events(hass, EVENT_QUESTION)
    turns = async_capture_events(hass, EVENT_TURN)
    ask = asyncio.Event()
    settings = SatelliteSettings(  # it wakes on the board: the turn begins once it is bound
        name="Kitchen",
        mic_file=spoken(tmp_path, "okay nabu", QUESTION),
        speak_when=ask,
        wake_word=LocalWakeWord.load("okay_nabu"),
        played=[],
    )
    async with adopted(hass, settings) as device_id:
        subentry = bind(hass, hub, "Kitchen", device_id)
        await hass.async_block_till_done()
        ask.set()
        await _until(turns)
    own_device = anima_device(hass, subentry.subentry_id)

    (turn,) = [event.data for event in turns]
    assert turn["device_id"] == own_device
    assert turn["satellite_device_id"] == device_id
    assert turn["endpoint"] == "Kitchen"
    assert turn["agent"] == AGENT
    assert "capital of france" in turn["question"].lower()
    assert turn["answer"] == ANSWER
    assert (turn["success"], turn["message_class"], turn["tier"]) == (True, "answer", "expressive")
    assert [use["kind"] for use in turn["providers"]] == ["stt", "chat", "tts"]
    assert {use["connection"] for use in turn["providers"]} == {"Whisper", "Cloud", "Piper"}
    assert set(turn["stages"]) == {"stt", "llm", "tts"}
    assert all(ms > 0 for ms in turn["stages"].values())
    # What the ledger booked to the satellite's device (gpt-4.1-mini's 1200 input and 30
    # output tokens; Whisper and Piper are free), in the hub's currency.
    meter = AnimaData.of(hass).meter
    booked = sum(r.cost for r in meter.ledger.records() if r.endpoint == device_id)
    assert booked > 0
    assert turn["cost"] == float(round(meter.shown(booked), 6))
    assert turn["currency"] == meter.currency
    assert [event.data["question"] for event in questions] == [turn["question"]]
    assert questions[0].data["device_id"] == own_device

    sensor = er.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, f"{subentry.subentry_id}-last_turn"
    )
    assert sensor is not None
    state = hass.states.get(sensor)
    assert state is not None
    assert float(state.state) == turn["cost"]
    assert state.attributes["unit_of_measurement"] == meter.currency
    assert state.attributes["providers"] == turn["providers"]
    assert state.attributes["stages"] == turn["stages"]
    assert state.attributes["tier"] == "expressive"


async def _automations(hass: HomeAssistant, device: str, *triggers: dict[str, Any]) -> None:
    """One automation per trigger on `device`, each turning on input_boolean.<its type>."""
    names = [t.get("id", t["type"]) for t in triggers]
    assert await async_setup_component(
        hass, "input_boolean", {"input_boolean": dict.fromkeys(names)}
    )
    automations = [
        {
            "trigger": {"platform": "device", "domain": DOMAIN, "device_id": device, **trigger},
            "action": {
                "action": "input_boolean.turn_on",
                "target": {"entity_id": f"input_boolean.{name}"},
            },
        }
        for name, trigger in zip(
            names, [{k: v for k, v in t.items() if k != "id"} for t in triggers], strict=True
        )
    ]
    assert await async_setup_component(hass, "automation", {"automation": automations})


def _fired(hass: HomeAssistant, name: str) -> bool:
    state = hass.states.get(f"input_boolean.{name}")
    return state is not None and state.state == "on"


async def test_device_triggers_fire_on_answers_questions_and_failures(
    hass: HomeAssistant, openai_server: FakeOpenAIServer
) -> None:
    _, kitchen, device = await typed_kitchen(hass, openai_server)
    listed = await async_get_device_automations(hass, DeviceAutomationType.TRIGGER, [device])
    assert {t["type"] for t in listed[device] if t["domain"] == DOMAIN} == {
        "turn_answered",
        "question_asked",
        "camera_answered",
        "answer_failed",
        "budget_warning",
        "budget_exceeded",
    }
    await _automations(
        hass,
        device,
        {"type": "turn_answered"},
        {
            "type": "question_asked",
            "sentence": "what is the weather [like] [today]",
            "id": "weather",
        },
        {"type": "question_asked", "sentence": "is the door locked", "id": "door"},
        {"type": "question_asked", "sentence": "remind me to {task}", "id": "reminder"},
        {"type": "camera_answered"},
        {"type": "answer_failed"},
    )
    openai_server.reply(Reply.text("Sunny."))
    await converse(hass, "What is the weather like today?", kitchen)
    assert _fired(hass, "turn_answered")
    assert _fired(hass, "weather")
    assert not _fired(hass, "door")  # another sentence
    assert not _fired(hass, "camera_answered")  # no camera was looked through
    assert not _fired(hass, "answer_failed")

    openai_server.reply(Reply.error(500), Reply.error(500), Reply.error(500))
    await converse(hass, "Is the door locked?", kitchen)
    assert _fired(hass, "answer_failed")
    assert _fired(hass, "door")

    assert not _fired(hass, "reminder")
    openai_server.reply(Reply.text("I will."))
    await converse(hass, "Remind me to water the plants.", kitchen)  # {task}: any words
    assert _fired(hass, "reminder")


async def test_a_question_trigger_whose_sentence_does_not_parse_is_refused(
    hass: HomeAssistant, openai_server: FakeOpenAIServer
) -> None:
    _, _, device = await typed_kitchen(hass, openai_server)
    trigger = {"platform": "device", "domain": DOMAIN, "device_id": device}
    with pytest.raises(vol.Invalid, match="invalid sentence"):
        await async_validate_trigger_config(
            hass, [{**trigger, "type": "question_asked", "sentence": "is the [door locked"}]
        )


async def test_a_trigger_fires_on_its_own_endpoints_turns_only(
    hass: HomeAssistant, openai_server: FakeOpenAIServer
) -> None:
    cloud = await add_openai(hass, openai_server, "Cloud")
    kitchen, hall = satellite_device(hass, "Kitchen"), satellite_device(hass, "Hall", 10701)
    hub = await add_hub(
        hass,
        profile(PROFILE_AGENT, "Assistant", [Link(cloud.entry_id, "gpt-4.1-mini")]),
        endpoint("Kitchen", kitchen),
        endpoint("Hall", hall),
    )
    (sub,) = [s for s in hub.subentries.values() if s.title == "Kitchen"]
    await _automations(hass, anima_device(hass, sub.subentry_id), {"type": "turn_answered"})
    openai_server.reply(Reply.text("Sunny."), Reply.text("Still sunny."))
    await converse(hass, "What is the weather like?", hall)
    assert not _fired(hass, "turn_answered")  # the hall's turn
    await converse(hass, "What is the weather like?", kitchen)
    assert _fired(hass, "turn_answered")


async def _editor_fields(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    kind: str,
    automations: dict[str, dict[str, Any]],
) -> dict[str, dict[str, dict[str, Any]]]:
    """The extra fields the automation editor shows for each of Anima's device `kind`s
    ("trigger" or "action"), by name."""
    assert await async_setup_component(hass, "device_automation", {})
    ws = await hass_ws_client(hass)
    fields = {}
    for name, automation in automations.items():
        await ws.send_json_auto_id(
            {"type": f"device_automation/{kind}/capabilities", kind: automation}
        )
        response = await ws.receive_json()
        assert response["success"], response
        fields[name] = {field["name"]: field for field in response["result"]["extra_fields"]}
    return fields


async def test_only_the_question_trigger_asks_for_more_in_the_automation_editor(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator, openai_server: FakeOpenAIServer
) -> None:
    _, _, device = await typed_kitchen(hass, openai_server)
    base = {"platform": "device", "domain": DOMAIN, "device_id": device}
    kinds = ("question_asked", "turn_answered", "budget_warning")
    fields = await _editor_fields(
        hass, hass_ws_client, "trigger", {kind: base | {"type": kind} for kind in kinds}
    )
    assert fields == {
        "question_asked": {
            "sentence": {"name": "sentence", "optional": True, "required": False, "type": "string"}
        },
        "turn_answered": {},
        "budget_warning": {},
    }


async def test_a_budget_changing_level_fires_the_hubs_triggers(
    hass: HomeAssistant, openai_server: FakeOpenAIServer
) -> None:
    hub, kitchen, _ = await typed_kitchen(hass, openai_server)
    hub_device = anima_device(hass, hub.entry_id)
    listed = await async_get_device_automations(hass, DeviceAutomationType.TRIGGER, [hub_device])
    assert {t["type"] for t in listed[hub_device] if t["domain"] == DOMAIN} == {
        "budget_warning",
        "budget_exceeded",
    }
    await _automations(hass, hub_device, {"type": "budget_warning"}, {"type": "budget_exceeded"})
    budgets = async_capture_events(hass, EVENT_BUDGET)
    hass.config_entries.async_update_entry(hub, options={CURRENCY: "USD", HOUSE_DAILY: 2.2})
    await hass.async_block_till_done()
    assert budgets == []  # the first look at a budget is no change

    # gpt-4.1-mini costs USD 0.40 per million input tokens: USD 2 of 2.20 is a warning.
    openai_server.reply(Reply.text("Long answer.", usage=(5_000_000, 0)))
    await converse(hass, "Tell me everything.", kitchen)
    assert [(e.data["level"], e.data["previous"]) for e in budgets] == [("warning", "normal")]
    assert budgets[0].data["device_id"] == hub_device
    assert budgets[0].data["endpoint"] is None  # the house's budget
    assert (budgets[0].data["spent"], budgets[0].data["limit"]) == (2.0, 2.2)
    assert _fired(hass, "budget_warning")
    assert not _fired(hass, "budget_exceeded")

    openai_server.reply(Reply.text("More.", usage=(5_000_000, 0)))
    await converse(hass, "And more.", kitchen)
    assert [e.data["level"] for e in budgets] == ["warning", "exceeded"]
    assert _fired(hass, "budget_exceeded")


async def test_the_device_actions_are_offered_on_endpoints_only(
    hass: HomeAssistant, openai_server: FakeOpenAIServer
) -> None:
    hub, _, device = await typed_kitchen(hass, openai_server)
    actions = await async_get_device_automations(hass, DeviceAutomationType.ACTION, [device])
    assert {a["type"] for a in actions[device] if a["domain"] == DOMAIN} == {"announce", "ask"}
    hub_device = anima_device(hass, hub.entry_id)
    actions = await async_get_device_automations(hass, DeviceAutomationType.ACTION, [hub_device])
    assert [a for a in actions[hub_device] if a["domain"] == DOMAIN] == []


async def test_connections_and_profiles_have_no_triggers_or_actions(
    hass: HomeAssistant, openai_server: FakeOpenAIServer
) -> None:
    """A connection's device (before the hub exists, and after) and a profile's offer none."""
    cloud = await add_openai(hass, openai_server, "Cloud", preset="openai")
    (connection,) = dr.async_entries_for_config_entry(dr.async_get(hass), cloud.entry_id)

    async def offered(device: str) -> list[dict[str, Any]]:
        found = []
        for kind in (DeviceAutomationType.TRIGGER, DeviceAutomationType.ACTION):
            listed = await async_get_device_automations(hass, kind, [device])
            found += [item for item in listed[device] if item["domain"] == DOMAIN]
        return found

    assert await offered(connection.id) == []
    hub = await add_hub(
        hass, profile(PROFILE_AGENT, "Assistant", [Link(cloud.entry_id, "gpt-4.1-mini")])
    )
    (agent,) = hub.subentries
    assert await offered(connection.id) == []
    assert await offered(anima_device(hass, agent)) == []


async def test_the_device_actions_ask_for_their_fields_in_the_houses_language(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator, openai_server: FakeOpenAIServer
) -> None:
    _, _, device = await typed_kitchen(hass, openai_server)
    base = {"domain": DOMAIN, "device_id": device}
    fields = await _editor_fields(
        hass,
        hass_ws_client,
        "action",
        {kind: base | {"type": kind} for kind in ("announce", "ask")},
    )
    assert fields["ask"] == {"question": {"name": "question", "required": True, "type": "string"}}
    assert fields["announce"]["message"]["required"] is True
    message_class = fields["announce"]["message_class"]
    assert message_class["default"] == "notification"
    choices = message_class["selector"]["select"]["options"]
    assert {choice["value"]: choice["label"] for choice in choices} == {
        "confirmation": "Confirmation",
        "notification": "Notification",
        "alert": "Alert (always spoken)",
        "answer": "Answer",
        "conversation": "Conversation",
    }


async def test_a_command_home_assistant_answers_itself_is_a_turn_too(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    hass_client: ClientSessionGenerator,
    openai_server: FakeOpenAIServer,
    piper_server: SpeechServer,
    whisper_server: SpeechServer,
) -> None:
    """With "prefer handling commands locally" no agent of Anima runs: the turn is still one."""
    assert await async_setup_component(hass, "intent", {})
    hass.states.async_set("light.kitchen", "off", {"friendly_name": "Kitchen light"})
    async_expose_entity(hass, conversation.DOMAIN, "light.kitchen", True)
    hass.services.async_register("light", "turn_on", lambda call: None)
    await anima_with_pipeline(hass, hass_ws_client, openai_server, piper_server, whisper_server)
    turns = async_capture_events(hass, EVENT_TURN)
    ws = await hass_ws_client(hass)
    await ws.send_json_auto_id({**anima_pipeline("Local"), "prefer_local_intents": True})
    pipeline = (await ws.receive_json())["result"]["id"]
    await ws.send_json_auto_id(
        {
            "type": "assist_pipeline/run",
            "start_stage": "intent",
            "end_stage": "tts",
            "input": {"text": "Turn on the kitchen light"},
            "pipeline": pipeline,
        }
    )
    assert (await ws.receive_json())["success"]
    while (event := (await ws.receive_json())["event"])["type"] != "run-end":
        if event["type"] == "tts-end":
            url = event["data"]["tts_output"]["url"]
    response = await (await hass_client()).get(URL(url).path)  # what a satellite fetches
    await response.read()
    await _until(turns)
    (turn,) = [event.data for event in turns]
    assert turn["agent"] == conversation.HOME_ASSISTANT_AGENT
    assert turn["question"] == "Turn on the kitchen light"
    assert (turn["message_class"], turn["tier"], turn["success"]) == (
        "confirmation",
        "earcon",
        True,
    )
    assert turn["providers"] == []  # no model, and the earcon needs no voice
    assert not [r for r in openai_server.requests if r.path.endswith("/chat/completions")]
