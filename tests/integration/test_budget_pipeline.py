"""Budgets apply to every kind of provider call, through the one call pipeline.

Speech-to-text, AI tasks, `anima.describe` and the look tool: at a warning the cheapest link
goes first, once the house's or the endpoint's budget is exceeded only local providers answer
(the cloud is never asked). Clouds are the fake OpenAI server with OpenAI's prices; local
providers are a real Whisper server and a fake Ollama (the local preset).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
import wave

from homeassistant.components import ai_task, stt
from homeassistant.core import Context, HomeAssistant
from homeassistant.helpers import llm
import pytest
import pytest_asyncio
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.anima.const import DOMAIN, HOUSE_DAILY
from custom_components.anima.core.endpoints import CAMERA, DAILY_BUDGET, SATELLITE
from custom_components.anima.core.ledger import Kind, UsageRecord
from custom_components.anima.core.profiles import AI_TASK, PROFILE_AGENT, PROFILE_LISTENER, Link
from custom_components.anima.runtime.data import AnimaData
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.fixtures.speech_servers import SpeechServer
from tests.fixtures.spoken import spoken
from tests.integration.anima_setup import (
    SPEECH_METADATA,
    add_hub,
    add_openai,
    add_wyoming,
    endpoint,
    porch_camera,
    profile,
    satellite_device,
)

SATELLITE_ENTITY = "assist_satellite.kitchen"


@pytest.fixture(autouse=True)
def dollars(hass: HomeAssistant) -> None:
    """Costs shown in dollars: the budgets below are in the prices' currency."""
    hass.config.currency = "USD"


@pytest_asyncio.fixture
async def ollama_server(socket_enabled: None) -> AsyncIterator[FakeOpenAIServer]:
    """A local Ollama (no key) with a chat model and a vision model."""
    async with FakeOpenAIServer(api_key=None) as server:
        server.models = ["llama3.2", "qwen2.5vl"]
        yield server


def _asked(server: FakeOpenAIServer, since: int, path: str) -> list[str]:
    """The models asked on `path` since request number `since`."""
    return [
        str(r.json["model"] if r.json else r.form["model"])
        for r in server.requests[since:]
        if r.path.endswith(path)
    ]


class _Chats:
    """The chat models the servers are asked for, one call at a time."""

    def __init__(self, *servers: FakeOpenAIServer) -> None:
        self.servers = servers
        self._since = [0] * len(servers)

    def start(self, *failing: FakeOpenAIServer) -> None:
        """Begin a call; each of `failing` answers it with a server error."""
        for server in failing:
            server.reply(Reply.error(500))
        self._since = [len(server.requests) for server in self.servers]

    def asked(self) -> list[str]:
        """The models asked since `start`, server by server."""
        return [
            model
            for server, since in zip(self.servers, self._since, strict=True)
            for model in _asked(server, since, "/chat/completions")
        ]


async def _set_house_budget(hass: HomeAssistant, hub: MockConfigEntry, daily: float) -> None:
    hass.config_entries.async_update_entry(hub, options={HOUSE_DAILY: daily})
    await hass.async_block_till_done()


def _spend(hass: HomeAssistant) -> None:
    """Book a priced cloud chat call of the house: 1M input tokens of gpt-4.1, USD 2."""
    AnimaData.of(hass).meter.ledger.record(
        UsageRecord(
            time=AnimaData.of(hass).meter.ledger.now(),
            provider="elsewhere",
            preset="openai",
            kind=Kind.CHAT,
            model="gpt-4.1",
            input_tokens=1_000_000,
        )
    )


def _pcm(folder: Path, text: str) -> bytes:
    with wave.open(str(spoken(folder, text)), "rb") as reader:
        return reader.readframes(reader.getnframes())


async def _chunks(pcm: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(pcm), 3200):
        yield pcm[start : start + 3200]


async def test_speech_to_text_keeps_to_the_budget(
    hass: HomeAssistant,
    openai_server: FakeOpenAIServer,
    whisper_server: SpeechServer,
    tmp_path: Path,
) -> None:
    """whisper-1 costs twice gpt-4o-mini-transcribe per minute; Whisper at home is free.

    "Cloud" has the two cloud models; "Home" has Whisper after them.
    """
    openai_server.models = ["whisper-1", "gpt-4o-mini-transcribe"]
    cloud = await add_openai(hass, openai_server, "OpenAI", preset="openai")
    whisper = await add_wyoming(hass, whisper_server, "Whisper")
    clouds = [Link(cloud.entry_id, "whisper-1"), Link(cloud.entry_id, "gpt-4o-mini-transcribe")]
    hub = await add_hub(
        hass,
        profile(PROFILE_LISTENER, "Cloud", clouds),
        profile(PROFILE_LISTENER, "Home", [*clouds, Link(whisper.entry_id)]),
    )
    pcm = _pcm(tmp_path, "Turn on the kitchen light.")

    async def transcribe(listener: str) -> tuple[list[str], stt.SpeechResult]:
        entity = stt.async_get_speech_to_text_entity(hass, f"stt.anima_{listener}")
        assert entity is not None
        since = len(openai_server.requests)
        result = await entity.async_process_audio_stream(SPEECH_METADATA, _chunks(pcm))
        return _asked(openai_server, since, "/audio/transcriptions"), result

    assert (await transcribe("cloud"))[0] == ["whisper-1"]  # within budget: the user's order
    _spend(hass)
    await _set_house_budget(hass, hub, 2.4)  # USD 2 of 2.40 spent: a warning
    assert (await transcribe("cloud"))[0] == ["gpt-4o-mini-transcribe"]
    await _set_house_budget(hass, hub, 1.0)  # exceeded: only Whisper, the cloud is not asked
    asked, result = await transcribe("home")
    assert asked == []
    assert "kitchen light" in (result.text or "").lower()
    record = [r for r in AnimaData.of(hass).meter.ledger.records() if r.kind is Kind.STT][-1]
    assert record.provider == whisper.entry_id
    # A listener with no local provider says it could not hear, and asks no cloud.
    asked, result = await transcribe("cloud")
    assert (asked, result.result) == ([], stt.SpeechResultState.ERROR)


async def test_speech_to_text_keeps_to_the_listening_endpoints_budget(
    hass: HomeAssistant,
    openai_server: FakeOpenAIServer,
    whisper_server: SpeechServer,
    tmp_path: Path,
) -> None:
    """A satellite listening: its endpoint's own budget (0: no cloud at all) applies."""
    openai_server.models = ["whisper-1"]
    cloud = await add_openai(hass, openai_server, "OpenAI", preset="openai")
    whisper = await add_wyoming(hass, whisper_server, "Whisper")
    device = satellite_device(hass, "Kitchen")
    await add_hub(
        hass,
        profile(
            PROFILE_LISTENER,
            "Listener",
            [Link(cloud.entry_id, "whisper-1"), Link(whisper.entry_id)],
        ),
        endpoint("Kitchen", device, **{SATELLITE: SATELLITE_ENTITY, DAILY_BUDGET: 0}),
    )
    listener = stt.async_get_speech_to_text_entity(hass, "stt.anima_listener")
    assert listener is not None
    pcm = _pcm(tmp_path, "Turn on the kitchen light.")
    hass.states.async_set(SATELLITE_ENTITY, "listening")
    result = await listener.async_process_audio_stream(SPEECH_METADATA, _chunks(pcm))
    assert "kitchen light" in (result.text or "").lower()
    assert _asked(openai_server, 0, "/audio/transcriptions") == []
    record = [r for r in AnimaData.of(hass).meter.ledger.records() if r.kind is Kind.STT][-1]
    assert (record.provider, record.endpoint) == (whisper.entry_id, device)
    # Nobody listening: the house has no budget, so the cloud answers first again.
    hass.states.async_set(SATELLITE_ENTITY, "idle")
    await listener.async_process_audio_stream(SPEECH_METADATA, _chunks(pcm))
    assert _asked(openai_server, 0, "/audio/transcriptions") == ["whisper-1"]


async def test_an_ai_task_keeps_to_the_budget(
    hass: HomeAssistant, openai_server: FakeOpenAIServer, ollama_server: FakeOpenAIServer
) -> None:
    cloud = await add_openai(hass, openai_server, "OpenAI", preset="openai")
    ollama = await add_openai(hass, ollama_server, "Ollama", preset="ollama")
    chain = [
        Link(cloud.entry_id, "gpt-4.1"),
        Link(cloud.entry_id, "gpt-4.1-nano"),
        Link(ollama.entry_id, "llama3.2"),
    ]
    hub = await add_hub(hass, profile(PROFILE_AGENT, "Assistant", chain, **{AI_TASK: True}))

    chats = _Chats(openai_server, ollama_server)

    async def task(*failing: FakeOpenAIServer) -> list[str]:
        chats.start(*failing)
        await ai_task.async_generate_data(
            hass, task_name="t", entity_id="ai_task.anima_assistant", instructions="Say hi."
        )
        return chats.asked()

    assert await task() == ["gpt-4.1"]
    _spend(hass)
    await _set_house_budget(hass, hub, 2.4)
    # Warning: the free local model first; when it fails, the cheap cloud model, not gpt-4.1.
    assert await task(ollama_server) == ["gpt-4.1-nano", "llama3.2"]
    await _set_house_budget(hass, hub, 1.0)
    assert await task() == ["llama3.2"]


async def test_describe_keeps_to_the_budget(
    hass: HomeAssistant,
    openai_server: FakeOpenAIServer,
    ollama_server: FakeOpenAIServer,
    tmp_path: Path,
) -> None:
    """gpt-4.1 costs five times gpt-4.1-mini; the local qwen2.5vl is free."""
    await porch_camera(hass, tmp_path)
    cloud = await add_openai(hass, openai_server, "OpenAI", preset="openai")
    ollama = await add_openai(hass, ollama_server, "Ollama", preset="ollama")
    chain = [
        Link(cloud.entry_id, "gpt-4.1"),
        Link(cloud.entry_id, "gpt-4.1-mini"),
        Link(ollama.entry_id, "qwen2.5vl"),
    ]
    hub = await add_hub(hass, profile(PROFILE_AGENT, "Assistant", chain))

    chats = _Chats(openai_server, ollama_server)

    async def describe(*failing: FakeOpenAIServer) -> list[str]:
        chats.start(*failing)
        await hass.services.async_call(
            DOMAIN, "describe", {"camera": "camera.porch"}, blocking=True, return_response=True
        )
        return chats.asked()

    assert await describe() == ["gpt-4.1"]
    _spend(hass)
    await _set_house_budget(hass, hub, 2.4)
    assert await describe(ollama_server) == ["gpt-4.1-mini", "qwen2.5vl"]
    await _set_house_budget(hass, hub, 1.0)
    assert await describe() == ["qwen2.5vl"]
    vision = [r for r in AnimaData.of(hass).meter.ledger.records() if r.kind is Kind.VISION]
    assert vision[-1].provider == ollama.entry_id


async def test_the_look_tool_keeps_to_the_asking_endpoints_budget(
    hass: HomeAssistant,
    openai_server: FakeOpenAIServer,
    ollama_server: FakeOpenAIServer,
    tmp_path: Path,
) -> None:
    await porch_camera(hass, tmp_path)
    cloud = await add_openai(hass, openai_server, "OpenAI", preset="openai")
    ollama = await add_openai(hass, ollama_server, "Ollama", preset="ollama")
    kitchen, hall = satellite_device(hass, "Kitchen"), satellite_device(hass, "Hall", 10701)
    chain = [Link(cloud.entry_id, "gpt-4.1-mini"), Link(ollama.entry_id, "qwen2.5vl")]
    await add_hub(
        hass,
        profile(PROFILE_AGENT, "Assistant", chain),
        endpoint("Kitchen", kitchen, **{CAMERA: "camera.porch", DAILY_BUDGET: 0}),
        endpoint("Hall", hall, **{CAMERA: "camera.porch"}),
    )

    chats = _Chats(openai_server, ollama_server)

    async def look(device: str) -> list[str]:
        chats.start()
        context = llm.LLMContext(
            platform="test",
            context=Context(),
            language="en",
            assistant=None,
            device_id=device,
        )
        api = await llm.async_get_api(hass, llm.LLM_API_ASSIST, context)
        result = await api.async_call_tool(
            llm.ToolInput(tool_name="anima__look", tool_args={"question": "What colour?"})
        )
        assert "answer" in result.data
        return chats.asked()

    assert await look(kitchen) == ["qwen2.5vl"]  # its budget of 0: no cloud
    assert await look(hall) == ["gpt-4.1-mini"]  # the hall has none: the user's order
