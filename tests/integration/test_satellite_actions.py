"""Anima's coordination actions, and the agent's tools, on a device that starts conversations
(as ESPHome's do).

Such an endpoint is reached through Home Assistant's own satellite actions
(runtime/reaching.py): `assist_satellite.announce`, `start_conversation` and `ask_question`. The
device (tests/integration/voice_device.py) is Home Assistant's real `AssistSatelliteEntity`
behaving as esphome's; its answers are Piper's speech, heard by Anima's listener (real Whisper)
through Home Assistant's pipeline; Anima's voice is real Piper and espeak-ng.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
import json
import struct
from typing import Any

from homeassistant.components import conversation
from homeassistant.components.assist_pipeline import PipelineEventType
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import llm
import pytest
import pytest_asyncio
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator, WebSocketGenerator
from yarl import URL

from custom_components.anima.const import DOMAIN
from custom_components.anima.core.endpoints import SATELLITE, VOICE
from custom_components.anima.core.ledger import Kind
from custom_components.anima.core.profiles import LLM_HASS_API, PROFILE_AGENT, PROFILE_VOICE
from custom_components.anima.runtime.data import AnimaData
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.fixtures.speech_servers import SpeechServer
from tests.integration.anima_setup import satellite_device
from tests.integration.satellites import anima_with_pipeline, bind, transcribe, words
from tests.integration.typed import converse
from tests.integration.voice_device import Microphone, piper_says, voice_device

AGENT = "conversation.anima_assistant"
TEA = [
    {"id": "yes", "sentences": ["yes [please]", "sure"]},
    {"id": "no", "sentences": ["no [thanks]", "not now"]},
]


@dataclass
class Office:
    """The Office endpoint: its device, satellite entity and microphone; the hub."""

    hub: MockConfigEntry
    device: str
    satellite: str
    mic: Microphone


@pytest_asyncio.fixture
async def office(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    hass_ws_client: WebSocketGenerator,
    openai_server: FakeOpenAIServer,
    piper_server: SpeechServer,
    whisper_server: SpeechServer,
    formant_server: SpeechServer,
) -> AsyncIterator[Office]:
    """Anima's pipeline and voice (its notifications in the formant tier); the device bound."""
    hub = await anima_with_pipeline(
        hass, hass_ws_client, openai_server, piper_server, whisper_server, formant=formant_server
    )
    client = await hass_client()  # announcements are fetched from Home Assistant's own URL
    await hass.config.async_update(internal_url=str(client.make_url("")).rstrip("/"))
    mic = Microphone()
    voice = next(s.subentry_id for s in hub.subentries.values() if s.subentry_type == PROFILE_VOICE)
    async with voice_device(hass, "Office", mic) as device:
        bound = bind(hass, hub, "Office", device, **{VOICE: voice})
        await hass.async_block_till_done()
        yield Office(hub, device, bound.data[SATELLITE], mic)
        # A reply the device played may still be filling Home Assistant's TTS cache.
        await hass.async_block_till_done(wait_background_tasks=True)


async def _act(hass: HomeAssistant, action: str, **data: Any) -> dict[str, Any]:
    response = await hass.services.async_call(
        DOMAIN, action, data, blocking=True, return_response=True
    )
    assert response is not None
    return dict(response)


def _connection(hass: HomeAssistant, title: str) -> str:
    return next(e.entry_id for e in hass.config_entries.async_entries(DOMAIN) if e.title == title)


async def _fetched(hass_client: ClientSessionGenerator, url: str) -> tuple[int, int, int, bytes]:
    """What the device plays: the announcement's URL fetched (an MP3), decoded by ffmpeg."""
    client = await hass_client()
    response = await client.get(URL(url).path_qs)
    assert response.status == 200
    assert response.content_type.startswith("audio/")
    ffmpeg = await asyncio.create_subprocess_exec(
        *("ffmpeg", "-v", "error", "-i", "pipe:", "-f", "s16le", "-ac", "1", "-ar", "16000"),
        "pipe:",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    pcm, _ = await ffmpeg.communicate(await response.read())
    assert ffmpeg.returncode == 0
    return 16000, 2, 1, pcm


async def test_announce_plays_the_message_in_the_tier_of_its_class(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    office: Office,
    whisper_server: SpeechServer,
) -> None:
    ledger = AnimaData.of(hass).meter.ledger
    spoken_by: list[str] = []
    for message, message_class, gist in (
        ("Dinner is ready.", "notification", "dinner is ready"),  # the formant tier
        ("Paris is the capital of France.", "answer", "capital of france"),  # Piper
    ):
        before = len(ledger.records())
        response = await _act(
            hass, "announce", device_id=office.device, message=message, message_class=message_class
        )
        assert response == {"spoken_on": ["Office"]}
        announcement = office.mic.announced[-1]
        assert announcement.message == message
        assert announcement.media_id_source == "media_id"  # Anima's voice, not the pipeline's
        heard = await transcribe(whisper_server, await _fetched(hass_client, announcement.media_id))
        assert gist in heard  # (Whisper hears "Harris" now and then)
        (record,) = [r for r in ledger.records()[before:] if r.kind is Kind.TTS]
        spoken_by.append(record.provider)
    assert spoken_by == [_connection(hass, "Formant"), _connection(hass, "Piper")]
    assert office.mic.started == []  # nothing was asked of anybody


async def test_an_announcement_with_an_earcon_the_device_cannot_play_says_why_and_is_not_made(
    hass: HomeAssistant, office: Office
) -> None:
    """The Office device has no Anima endpoint service and no ESPHome play_earcon action."""
    with pytest.raises(HomeAssistantError) as refused:
        await _act(hass, "announce", device_id=office.device, message="Hi.", earcon="notify")
    assert refused.value.translation_key == "no_earcon_player"
    assert str(refused.value).startswith("Office cannot play earcons on request")
    assert office.mic.announced == []


async def test_ask_endpoint_returns_the_spoken_answer_and_the_answer_matched(
    hass: HomeAssistant,
    office: Office,
    piper_server: SpeechServer,
    openai_server: FakeOpenAIServer,
) -> None:
    office.mic.answer = await piper_says(piper_server, "Yes please.")
    reply = await _act(
        hass, "ask_endpoint", device_id=office.device, question="Do you want tea?", answers=TEA
    )
    assert reply["endpoint"] == "Office"
    assert words(reply["sentence"]) == "yes please"
    assert reply["id"] == "yes"
    (question,) = office.mic.started
    assert question.message == "Do you want tea?"
    assert question.preannounce_media_id is None  # asked plainly, no chime first
    # Home Assistant only transcribed the answer: no agent turn, nothing said back.
    assert not [r for r in openai_server.requests if r.path.endswith("/chat/completions")]
    assert PipelineEventType.INTENT_START not in office.mic.events

    office.mic.answer = await piper_says(piper_server, "I would like some coffee.")
    reply = await _act(hass, "ask_endpoint", device_id=office.device, question="Tea?", answers=TEA)
    assert "coffee" in words(reply["sentence"])
    assert reply["id"] is None  # heard, but none of the answers


async def test_handoff_starts_a_conversation_there_that_carries_the_history(
    hass: HomeAssistant,
    office: Office,
    piper_server: SpeechServer,
    openai_server: FakeOpenAIServer,
) -> None:
    openai_server.reply(Reply.text("Nice to meet you, Sam."), Reply.text("The kettle is on."))
    earlier = await conversation.async_converse(
        hass, "My name is Sam and I like green tea.", None, Context(), "en", agent_id=AGENT
    )
    office.mic.answer = await piper_says(piper_server, "Yes, put the kettle on.")
    response = await _act(
        hass,
        "handoff",
        device_id=office.device,
        conversation_id=earlier.conversation_id,
        message="Shall I make you a cup of tea?",
    )
    assert response == {"endpoint": "Office"}
    (start,) = office.mic.started
    assert start.message == "Shall I make you a cup of tea?"
    async with asyncio.timeout(90):  # the office heard the answer; the agent answers it
        while PipelineEventType.RUN_END not in office.mic.events:
            await asyncio.sleep(0.1)
    chats = [r for r in openai_server.requests if r.path.endswith("/chat/completions")]
    assert len(chats) == 2
    said = [words(str(m.get("content") or "")) for m in chats[1].json["messages"]]
    assert "my name is sam and i like green tea" in said  # the history followed
    assert "nice to meet you sam" in said
    assert "shall i make you a cup of tea" in said  # and what the office said first
    assert "kettle" in said[-1]  # the answer heard there
    assert PipelineEventType.TTS_END in office.mic.events  # the reply was spoken there
    # The question was said by the office's own voice, and booked to the office.
    spoken = [r for r in AnimaData.of(hass).meter.ledger.records() if r.kind is Kind.TTS]
    asked = [r for r in spoken if r.characters == len("Shall I make you a cup of tea?")]
    assert [r.endpoint for r in asked] == [office.device]
    state = hass.states.get(office.satellite)
    assert state is not None
    assert state.state == "idle"


async def _with_tools(hass: HomeAssistant, office: Office) -> str:
    """The agent with the Assist API and Anima's tools; a Kitchen device typed at: its id."""
    agent = next(s for s in office.hub.subentries.values() if s.subentry_type == PROFILE_AGENT)
    hass.config_entries.async_update_subentry(
        office.hub, agent, data={**agent.data, LLM_HASS_API: [llm.LLM_API_ASSIST]}
    )
    kitchen = satellite_device(hass, "Kitchen")
    bind(hass, office.hub, "Kitchen", kitchen)
    await hass.async_block_till_done()
    return kitchen


async def test_an_agent_hands_its_conversation_over_and_it_continues_there(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    office: Office,
    piper_server: SpeechServer,
    openai_server: FakeOpenAIServer,
) -> None:
    kitchen = await _with_tools(hass, office)
    openai_server.reply(
        Reply.tool_call("anima__handoff", {"endpoint": "office"}),
        Reply.text("Let's go on in the office."),
        Reply.text("Two biscuits, then."),
    )
    office.mic.answer = await piper_says(piper_server, "And two biscuits please.")
    await converse(hass, "I'm walking to the office, I'd like some green tea.", kitchen)
    async with asyncio.timeout(90):  # the kitchen's turn over, the office listens and answers
        while PipelineEventType.RUN_END not in office.mic.events:
            await asyncio.sleep(0.1)
    (start,) = office.mic.started
    assert start.message == ""  # the reply was said in the kitchen; the office just listens
    *_, chime = await _fetched(hass_client, start.media_id)  # but it shows it listens
    assert max(abs(sample) for (sample,) in struct.iter_unpack("<h", chime)) > 1000
    chats = [r for r in openai_server.requests if r.path.endswith("/chat/completions")]
    assert len(chats) == 3
    said = [words(str(m.get("content") or "")) for m in chats[2].json["messages"]]
    assert "i'm walking to the office i'd like some green tea" in said
    assert "let's go on in the office" in said  # the kitchen's reply, spoken after the tool
    assert "biscuits" in said[-1]


def _tool_results(request: Any) -> dict[str, Any]:
    """What the model heard back from each tool it called, by tool name."""
    messages = request.json["messages"]
    names = {
        call["id"]: call["function"]["name"]
        for message in messages
        for call in message.get("tool_calls") or []
    }
    return {
        names[m["tool_call_id"]]: json.loads(m["content"])["data"]
        for m in messages
        if m["role"] == "tool"
    }


async def test_an_agent_announces_and_asks_the_person_at_another_endpoint(
    hass: HomeAssistant,
    office: Office,
    piper_server: SpeechServer,
    openai_server: FakeOpenAIServer,
) -> None:
    kitchen = await _with_tools(hass, office)
    openai_server.reply(
        Reply.tool_calls(
            [
                ("anima__announce", {"endpoint": "office", "message": "Tea is coming."}),
                ("anima__ask_endpoint", {"endpoint": "office", "question": "Milk in it?"}),
            ]
        ),
        Reply.text("Tea with milk for the office."),
    )
    office.mic.answer = await piper_says(piper_server, "Yes please.")
    await converse(hass, "Tell the office tea is coming and ask if they want milk.", kitchen)
    chats = [r for r in openai_server.requests if r.path.endswith("/chat/completions")]
    results = _tool_results(chats[-1])
    assert results["anima__announce"] == {"spoken_on": ["Office"]}
    assert results["anima__ask_endpoint"]["endpoint"] == "Office"
    assert words(results["anima__ask_endpoint"]["answer"]) == "yes please"
    assert [a.message for a in office.mic.announced] == ["Tea is coming."]
    assert [a.message for a in office.mic.started] == ["Milk in it?"]


async def test_an_agent_asks_another_endpoints_agent_and_hears_its_answer(
    hass: HomeAssistant, office: Office, openai_server: FakeOpenAIServer
) -> None:
    kitchen = await _with_tools(hass, office)
    openai_server.reply(
        Reply.tool_call("anima__ask_agent", {"endpoint": "office", "question": "Is Sam in?"}),
        Reply.text("Sam is at the desk."),  # the office's agent, asked from the office
        Reply.text("Sam is in the office."),
    )
    await converse(hass, "Ask the office assistant whether Sam is in.", kitchen)
    chats = [r for r in openai_server.requests if r.path.endswith("/chat/completions")]
    assert len(chats) == 3
    assert chats[1].json["messages"][-1]["content"] == "Is Sam in?"  # a turn of its own
    assert _tool_results(chats[2]) == {
        "anima__ask_agent": {"endpoint": "Office", "answer": "Sam is at the desk."}
    }
    assert office.mic.announced == office.mic.started == []  # nobody there was disturbed


async def test_a_device_gone_away_did_not_answer_and_silence_is_not_heard(
    hass: HomeAssistant, office: Office, caplog: pytest.LogCaptureFixture
) -> None:
    office.mic.fail = ConnectionError("Connection lost")
    for action, data in (
        ("announce", {"device_id": office.device, "message": "Dinner is ready."}),
        ("ask_endpoint", {"device_id": office.device, "question": "Tea?"}),
        ("handoff", {"device_id": office.device, "message": "Shall we go on?"}),
    ):
        with pytest.raises(HomeAssistantError) as failed:
            await _act(hass, action, **data)
        assert failed.value.translation_key == "unreachable"
        # (Home Assistant drops a translated message's full stop)
        assert str(failed.value) == (
            "Office did not answer: its satellite or speaker is not reachable now"
        )
    assert "Traceback" not in caplog.text

    office.mic.fail = None  # back, but nobody answers
    with pytest.raises(HomeAssistantError) as failed:
        await _act(hass, "ask_endpoint", device_id=office.device, question="Tea?", timeout=3)
    assert str(failed.value) == "I didn't hear an answer at Office"
    # It was not left listening: it says the next thing at once.
    await _act(hass, "announce", device_id=office.device, message="Never mind.")
    assert office.mic.announced[-1].message == "Never mind."


async def test_an_answer_of_silence_is_not_heard(hass: HomeAssistant, office: Office) -> None:
    """The person says nothing; Home Assistant hears no words: not a device gone away."""
    office.mic.answer = b""  # a second and a half of silence
    with pytest.raises(HomeAssistantError) as failed:
        await _act(hass, "ask_endpoint", device_id=office.device, question="Tea?", timeout=60)
    assert str(failed.value) == "I didn't hear an answer at Office"
    assert PipelineEventType.STT_START in office.mic.events  # it was reached, and listened


async def test_nobody_answering_within_home_assistants_own_limit_is_not_heard(
    hass: HomeAssistant, office: Office
) -> None:
    """Home Assistant stops listening after 15 s without speech, before Anima's time limit."""
    with pytest.raises(HomeAssistantError) as failed:
        await _act(hass, "ask_endpoint", device_id=office.device, question="Tea?", timeout=60)
    assert str(failed.value) == "I didn't hear an answer at Office"
