"""Devices that work together, in a real Home Assistant 2026.11: three of Anima's satellites
(kitchen, living room, office) adopted by Home Assistant's Wyoming integration, each with a
live microphone (silence in real time, speech when a test says something into it) and its
local wake word, real Whisper and Piper, replies transcribed back; only the cloud LLM is the
protocol-faithful fake, whose scripted answers call Anima's tools as a model would.

One Home Assistant serves every test here (its start is the slow part); each test speaks into
the satellites and waits for what they play.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import pytest_socket

from anima_satellite.endpoint_service import ServiceSettings, serve as serve_endpoint
from anima_satellite.satellite import SatelliteSettings, listen, play, serve
from anima_satellite.wake import LocalWakeWord
from custom_components.anima.protocol import new_key, parse_key
from scripts.hassctl import HassHTTPError, HassProcess, free_port
from tests.e2e.test_smoke import wait_for_state
from tests.e2e.voice_setup import setup_anima_voice
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.fixtures.live_mic import LiveMic
from tests.fixtures.speech_servers import SpeechServer
from tests.fixtures.spoken import spoken
from tests.integration.satellites import transcribe, words

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(900)]

EXTRA_CONFIG = """
logger:
  default: warning
  logs:
    custom_components.anima: info
logbook:
automation: !include automations.yaml
input_boolean:
  office_answered:
"""
ROOMS = {"kitchen": "Kitchen", "living_room": "Living room", "office": "Office"}
OFFICE_PERSONA = "You are the office speaker."


@dataclass
class Satellite:
    """One of the house's satellites, as Home Assistant and Anima know it."""

    name: str
    settings: SatelliteSettings
    mic: LiveMic
    device_id: str = ""  # Home Assistant's device of the satellite
    entity_id: str = ""  # its assist_satellite entity
    anima_device: str = ""  # the endpoint's Anima device

    def say(self, folder: Path, *phrases: str) -> None:
        """Speak into the satellite's microphone."""
        self.mic.say(spoken(folder, *phrases, name=f"{self.mic.folder.name}-{len(phrases)}"))


@dataclass
class House:
    """The running house: Home Assistant, the fake cloud, Whisper and the satellites."""

    hass: HassProcess
    cloud: FakeOpenAIServer
    whisper: SpeechServer
    rooms: dict[str, Satellite] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def chats(self) -> list[Any]:
        """The chat requests the cloud received, oldest first."""
        return [r for r in self.cloud.requests if r.path.endswith("/chat/completions")]

    async def state(self, entity_id: str) -> str:
        """An entity's state now ("" while it does not exist)."""
        try:
            return str((await self.hass.request("GET", f"/api/states/{entity_id}"))["state"])
        except HassHTTPError:
            return ""

    async def until(self, check: Callable[[], Any], timeout: float = 120) -> None:
        """Wait until `check()` (maybe awaitable) is true."""
        async with asyncio.timeout(timeout):
            while True:
                result = check()
                if asyncio.iscoroutine(result):
                    result = await result
                if result:
                    return
                await asyncio.sleep(0.1)

    async def played(self, room: str, count: int) -> tuple[int, int, int, bytes]:
        """Wait until a satellite has played `count` replies; return the last."""
        played = self.rooms[room].settings.played
        await self.until(lambda: len(played) >= count)
        return played[count - 1]

    async def heard(self, room: str, count: int) -> str:
        """What Whisper hears in the satellite's `count`-th reply."""
        return await transcribe(self.whisper, await self.played(room, count))

    async def listening(self, room: str) -> None:
        """Wait until a satellite listens (its pipeline streams to speech-to-text)."""
        entity = self.rooms[room].entity_id
        await self.until(lambda: self.is_(entity, "listening"))

    async def idle(self, *rooms: str) -> None:
        """Wait until the satellites are idle."""
        for room in rooms:
            await self.until(partial(self.is_, self.rooms[room].entity_id, "idle"))

    async def is_(self, entity_id: str, state: str) -> bool:
        """Whether an entity is in `state` now."""
        return await self.state(entity_id) == state


async def _adopt(house: House, area: str, name: str, voice: str, tmp: Path) -> None:
    """Start a satellite with its endpoint service; adopt it, put it in its area, bind it."""
    hass = house.hass
    mic = LiveMic(tmp / f"mic-{area}")
    settings = SatelliteSettings(
        name=name,
        mic_command=mic.command,
        wake_word=LocalWakeWord.load("okay_nabu"),
        played=[],
    )
    port, service_port = free_port(), free_port()
    key = new_key()  # the pairing key, as `anima-satellite --print-key` shows it
    service = ServiceSettings(
        name,
        parse_key(key),
        satellite_port=port,
        play=partial(play, settings),
        listen=partial(listen, settings),
    )
    house.tasks += [
        asyncio.create_task(serve(f"tcp://127.0.0.1:{port}", settings)),
        asyncio.create_task(serve_endpoint(f"tcp://127.0.0.1:{service_port}", service)),
    ]
    await asyncio.sleep(0.2)
    adopted = await hass.config_flow("wyoming", [{"host": "127.0.0.1", "port": port}])
    assert adopted["type"] == "create_entry", adopted
    devices = await hass.websocket({"type": "config/device_registry/list"})
    (device,) = [
        d for d in devices if d.get("primary_config_entry") == adopted["result"]["entry_id"]
    ]
    areas = await hass.websocket({"type": "config/area_registry/list"})
    if area not in {a["area_id"] for a in areas}:  # onboarding made some rooms already
        await hass.websocket({"type": "config/area_registry/create", "name": name})
    await hass.websocket(
        {"type": "config/device_registry/update", "device_id": device["id"], "area_id": area}
    )
    hub = next(e for e in await hass.entries("anima") if e["title"] == "Anima")
    data = {
        "device_id": device["id"],
        "service": f"127.0.0.1:{service_port}",
        "service_key": key,
        "voice": voice,
    }
    if area == "office":
        data["persona"] = OFFICE_PERSONA
    bound = await hass.subentry_flow(hub["entry_id"], "endpoint", lambda form: data)
    assert bound["type"] == "create_entry", bound
    await wait_for_state(hass, hub["entry_id"], "loaded")
    entities = await hass.websocket({"type": "config/entity_registry/list"})
    (satellite,) = [
        e["entity_id"]
        for e in entities
        if e["device_id"] == device["id"] and e["entity_id"].startswith("assist_satellite.")
    ]
    devices = await hass.websocket({"type": "config/device_registry/list"})
    (own,) = [d["id"] for d in devices if d.get("via_device_id") == device["id"]]
    house.rooms[area] = Satellite(name, settings, mic, device["id"], satellite, own)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def house(
    tmp_path_factory: pytest.TempPathFactory,
    piper_session: Any,
    whisper_session: Any,
    formant_session: Any,
) -> AsyncIterator[House]:
    """A real Home Assistant with Anima and three adopted satellites bound as endpoints.

    Module fixtures come before each test's socket permission (see conftest.py): lift the
    block here, as `real_hass` does.
    """
    pytest_socket.enable_socket()
    tmp = tmp_path_factory.mktemp("coordination")
    config = tmp / "config"
    config.mkdir()
    (config / "automations.yaml").write_text("[]\n")
    async with (
        FakeOpenAIServer() as cloud,
        HassProcess(config, port=free_port(), extra_config=EXTRA_CONFIG, start_timeout=300) as hass,
    ):
        house = House(hass, cloud, whisper_session)
        voice = await setup_anima_voice(
            hass, cloud, piper_session, whisper_session, formant_session
        )
        try:
            for area, name in ROOMS.items():
                await _adopt(house, area, name, voice, tmp)
            yield house
        finally:
            for task in house.tasks:
                task.cancel()
            await asyncio.gather(*house.tasks, return_exceptions=True)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Where this test's speech is recorded."""
    return tmp_path


async def test_two_satellites_hearing_one_wake_word_give_one_answer(
    house: House, folder: Path
) -> None:
    kitchen, living = house.rooms["kitchen"], house.rooms["living_room"]
    played = {room: len(house.rooms[room].settings.played) for room in ("kitchen", "living_room")}
    asked = len(house.chats())
    # Words Whisper's tiny model hears every time ("noon" came back as "new").
    house.cloud.reply(Reply.text("It is time for lunch."))  # a second turn would get the echo
    for satellite in (kitchen, living):  # both hear the same words at once
        satellite.say(folder, "okay nabu", "What time is it?")
    await house.until(
        lambda: sum(len(house.rooms[r].settings.played) - n for r, n in played.items()) >= 1
    )
    await house.idle("kitchen", "living_room")
    assert len(house.chats()) == asked + 1  # one turn reached the agent
    answered = [r for r, n in played.items() if len(house.rooms[r].settings.played) > n]
    assert len(answered) == 1
    assert "lunch" in await house.heard(answered[0], played[answered[0]] + 1)


async def test_the_kitchen_announces_dinner_in_the_living_room(house: House, folder: Path) -> None:
    kitchen, living = house.rooms["kitchen"], house.rooms["living_room"]
    heard_before = len(living.settings.played)
    kitchen_before = len(kitchen.settings.played)
    house.cloud.reply(
        Reply.tool_call(
            "anima__announce", {"endpoint": "the living room", "message": "Dinner is ready."}
        ),
        Reply.text("I told the living room."),
    )
    kitchen.say(folder, "okay nabu", "Tell the living room that dinner is ready.")
    # A notification: the formant voice (espeak-ng) says it, which tiny.en hears less well.
    assert "dinner" in await house.heard("living_room", heard_before + 1)
    assert "living room" in await house.heard("kitchen", kitchen_before + 1)
    tool = house.chats()[-1].json["messages"][-1]
    assert tool["role"] == "tool"
    assert "Living room" in tool["content"]  # where it was spoken


async def test_the_office_answers_a_question_from_the_kitchen_by_speech(
    house: House, folder: Path
) -> None:
    kitchen, office = house.rooms["kitchen"], house.rooms["office"]
    office_before, kitchen_before = len(office.settings.played), len(kitchen.settings.played)
    house.cloud.reply(
        Reply.tool_call(
            "anima__ask_endpoint", {"endpoint": "office", "question": "Do you want tea?"}
        ),
        Reply.text("Sam says yes please."),
    )
    kitchen.say(folder, "okay nabu", "Ask the office if Sam wants tea.")
    assert "tea" in await house.heard("office", office_before + 1)  # the question, spoken there
    await house.listening("office")  # then it listens, without its wake word
    office.say(folder, "Yes please.")
    assert "yes please" in await house.heard("kitchen", kitchen_before + 1)
    tool = house.chats()[-1].json["messages"][-1]
    assert tool["role"] == "tool"
    assert "yes please" in words(tool["content"])  # the office's spoken answer


async def test_the_kitchen_asks_the_office_agent(house: House, folder: Path) -> None:
    kitchen = house.rooms["kitchen"]
    before = len(kitchen.settings.played)
    asked = len(house.chats())
    house.cloud.reply(
        Reply.tool_call("anima__ask_agent", {"endpoint": "office", "question": "What are you?"}),
        Reply.text("I am the office speaker."),
        Reply.text("The office says it is the office speaker."),
    )
    kitchen.say(folder, "okay nabu", "Ask the office assistant what it is.")
    assert "office speaker" in await house.heard("kitchen", before + 1)
    office_turn = house.chats()[asked + 1].json["messages"]
    assert OFFICE_PERSONA in office_turn[0]["content"]  # the office's own persona
    assert office_turn[-1]["content"] == "What are you?"


async def test_a_conversation_handed_to_the_office_continues_there_with_its_history(
    house: House, folder: Path
) -> None:
    kitchen, office = house.rooms["kitchen"], house.rooms["office"]
    kitchen_before, office_before = len(kitchen.settings.played), len(office.settings.played)
    house.cloud.reply(
        Reply.tool_call("anima__handoff", {"endpoint": "office"}),
        Reply.text("Let us continue in the office."),
        Reply.text("Your name is Sam."),
    )
    kitchen.say(folder, "okay nabu", "My name is Sam. Let us continue in the office.")
    assert "office" in await house.heard("kitchen", kitchen_before + 1)
    await house.listening("office")  # the next turn is heard there, without the wake word
    office.say(folder, "What is my name?")
    assert "your name is sam" in await house.heard("office", office_before + 1)
    said = [words(str(m.get("content"))) for m in house.chats()[-1].json["messages"]]
    assert any("my name is sam" in text for text in said)  # the kitchen's words came along
    assert "my name" in said[-1]


async def test_a_question_in_the_reply_is_answered_without_the_wake_word(
    house: House, folder: Path
) -> None:
    living = house.rooms["living_room"]
    before = len(living.settings.played)
    house.cloud.reply(Reply.text("For how long?"), Reply.text("The timer is set."))
    living.say(folder, "okay nabu", "Set a timer.")
    await house.played("living_room", before + 1)
    await house.listening("living_room")  # it listens again by itself after the question
    living.say(folder, "Ten minutes.")
    assert "timer is set" in await house.heard("living_room", before + 2)
    messages = house.chats()[-1].json["messages"]
    assert {"role": "assistant", "content": "For how long?"} in messages  # the same conversation
    assert "minutes" in words(messages[-1]["content"])


async def test_an_answered_turn_fires_the_device_trigger_and_is_in_the_logbook(
    house: House, folder: Path
) -> None:
    office, hass = house.rooms["office"], house.hass
    automation = {
        "alias": "Office answered",
        "triggers": [
            {
                "trigger": "device",
                "domain": "anima",
                "device_id": office.anima_device,
                "type": "turn_answered",
            }
        ],
        "actions": [
            {
                "action": "input_boolean.turn_on",
                "target": {"entity_id": "input_boolean.office_answered"},
            }
        ],
    }
    await hass.request("POST", "/api/config/automation/config/office_answered", automation)
    await house.until(lambda: house.is_("automation.office_answered", "on"))
    before = len(office.settings.played)
    house.cloud.reply(Reply.text("All quiet in the office."))
    office.say(folder, "okay nabu", "How is the office?")
    await house.played("office", before + 1)
    await house.until(lambda: house.is_("input_boolean.office_answered", "on"))

    async def logged() -> list[dict[str, Any]]:  # the recorder commits every second
        entries = await hass.websocket(
            {
                "type": "logbook/get_events",
                "start_time": "2000-01-01T00:00:00+00:00",
                "device_ids": [office.anima_device],
            }
        )
        return [e for e in entries if "All quiet in the office." in e.get("message", "")]

    await house.until(logged)
    (entry,) = await logged()
    assert (entry["domain"], entry["name"]) == ("anima", "Office")
    assert entry["message"].startswith('answered "')
    assert "; expressive voice; " in entry["message"]
