"""Scenario of bench/cost.py: the household day, every event a real turn, costs from the ledger.

Each of the trace's 100 events runs through Home Assistant with Anima's listener, agent and
voice. A spoken event (command, question, camera question) is espeak-ng audio streamed into the
assist pipeline from the kitchen satellite; the cloud hears it (gpt-4o-mini-transcribe), Home
Assistant's local intents or Anima's agent (gpt-4.1-mini on the fake OpenAI service, see
household.py) answer, Anima classifies the reply and its voice policy picks the tier, and the
voice speaks (gpt-4o-mini-tts expressive, Piper compact, espeak-ng formant, all real but the
cloud). An announcement is spoken the way an automation asks: through the voice with the
`message_class` the automation sets (notification, or alert for the three safety messages). The
costs are read back from Anima's ledger.

Each configuration of `LEVERS` is one run of the whole day; the results go to ANIMA_BENCH_OUT.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
import json
import os
from pathlib import Path
import time
from typing import Any
import wave

from homeassistant.components import assist_pipeline, tts
from homeassistant.components.tts.const import DATA_TTS_MANAGER
from homeassistant.core import Context, HomeAssistant
from homeassistant.helpers import llm
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.anima.core.endpoints import CAMERA, VISION_MODE
from custom_components.anima.core.ledger import OUTCOME_CACHE_HIT, Kind
from custom_components.anima.core.profiles import (
    LLM_HASS_API,
    POLICY,
    PROFILE_AGENT,
    PROFILE_LISTENER,
    PROFILE_VOICE,
    TIER_CHAINS,
    Link,
)
from custom_components.anima.core.speech.tiers import DEFAULT_POLICY, Tier, VoicePolicy
from custom_components.anima.runtime import speaking
from custom_components.anima.runtime.data import AnimaData
from custom_components.anima.runtime.speech_cache import SpeechCache
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.fixtures.speech_servers import SpeechServer
from tests.fixtures.spoken import spoken
from tests.integration.anima_setup import (
    SPEECH_METADATA,
    add_hub,
    add_openai,
    add_wyoming,
    anima_pipeline,
    endpoint,
    porch_camera,
    profile,
    satellite_device,
)

from .harness import on_reply_audio
from .household import Cloud, PromptCache, build_house

TRACE = Path(__file__).parents[1] / "traces" / "household-day.json"
EVENTS: list[dict[str, Any]] = json.loads(TRACE.read_text(encoding="utf-8"))["events"]
#: For a quick look while working on it: N events evenly spread over the day (the results say
#: how many ran).
EVENTS = EVENTS[:: max(1, len(EVENTS) // int(os.environ.get("ANIMA_BENCH_EVENTS", len(EVENTS))))]
#: The day's clock: the events spread evenly over 16 waking hours.
DAY_SECONDS = 16 * 3600
#: How long OpenAI keeps a prompt prefix after its last use ("5 to 10 minutes"): the lower end.
PROMPT_CACHE_TTL = 300.0
EXPRESSIVE_ONLY = VoicePolicy(
    confirmation=Tier.EXPRESSIVE,
    notification=Tier.EXPRESSIVE,
    alert=Tier.EXPRESSIVE,
    answer=Tier.EXPRESSIVE,
    conversation=Tier.EXPRESSIVE,
)


@dataclass(frozen=True)
class Levers:
    """One configuration of the day: which cost levers are on."""

    name: str
    local_intents: bool = False
    prompt_cache: bool = False
    speech_cache: bool = False
    policy: VoicePolicy = EXPRESSIVE_ONLY


BASELINE = Levers("baseline")
#: Cumulative: each adds one lever to the one before; the last is Anima's defaults.
LEVERS = (
    BASELINE,
    Levers("local_intents", local_intents=True),
    Levers("prompt_cache", local_intents=True, prompt_cache=True),
    Levers("speech_cache", local_intents=True, prompt_cache=True, speech_cache=True),
    Levers(
        "default_policy",
        local_intents=True,
        prompt_cache=True,
        speech_cache=True,
        policy=DEFAULT_POLICY,
    ),
)


async def _house(
    hass: HomeAssistant,
    ws: WebSocketGenerator,
    cloud_server: FakeOpenAIServer,
    piper: SpeechServer,
    formant: SpeechServer,
    levers: Levers,
    tmp_path: Path,
) -> tuple[str, str]:
    """Home Assistant with the house, Anima and its pipeline; the pipeline and satellite ids."""
    hass.config.currency = "USD"
    assert await async_setup_component(hass, "assist_pipeline", {})
    assert await async_setup_component(hass, "tts", {})
    # No cache but the lever's: Home Assistant's TTS file cache would serve whole repeated
    # messages before they reach the voice (unbooked, unclassified). Off, every reply is spoken.
    hass.data[DATA_TTS_MANAGER].use_file_cache = False
    await build_house(hass)
    await porch_camera(hass, tmp_path)
    cloud_server.models = ["gpt-4.1-mini", "gpt-4o-mini-transcribe", "gpt-4o-mini-tts"]
    cloud = await add_openai(hass, cloud_server, "OpenAI", preset="openai")
    joe = await add_wyoming(hass, piper, "Piper")
    robot = await add_wyoming(hass, formant, "Formant")
    voice = profile(PROFILE_VOICE, "Voice", [Link(cloud.entry_id, "gpt-4o-mini-tts", "nova")])
    voice["data"] = {
        **voice["data"],
        TIER_CHAINS[Tier.COMPACT]: [Link(joe.entry_id, voice="en_US-joe-medium").as_data()],
        TIER_CHAINS[Tier.FORMANT]: [Link(robot.entry_id, voice="en-us").as_data()],
        POLICY: levers.policy.to_dict(),
    }
    kitchen = satellite_device(hass, "Kitchen")
    await add_hub(
        hass,
        profile(
            PROFILE_AGENT,
            "Assistant",
            [Link(cloud.entry_id, "gpt-4.1-mini")],
            **{LLM_HASS_API: [llm.LLM_API_ASSIST]},
        ),
        profile(PROFILE_LISTENER, "Listener", [Link(cloud.entry_id, "gpt-4o-mini-transcribe")]),
        voice,
        endpoint("Kitchen", kitchen, **{CAMERA: "camera.porch", VISION_MODE: "eager"}),
    )
    client = await ws(hass)
    await client.send_json_auto_id(
        {**anima_pipeline("Household"), "prefer_local_intents": levers.local_intents}
    )
    return str((await client.receive_json())["result"]["id"]), kitchen


async def _chunks(pcm: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(pcm), 3200):
        yield pcm[start : start + 3200]


async def _spoken_turn(hass: HomeAssistant, pipeline: str, device: str, pcm: bytes) -> bool:
    """One spoken turn through the pipeline, its reply listened to the end; whether it was."""
    listened: list[asyncio.Task[int]] = []

    async def listen(token: str) -> int:
        stream = tts.async_get_stream(hass, token)
        assert stream is not None
        return sum([len(data) async for data in stream.async_stream_result()])

    await assist_pipeline.async_pipeline_from_audio_stream(
        hass,
        context=Context(),
        event_callback=on_reply_audio(
            lambda token: listened.append(hass.async_create_task(listen(token)))
        ),
        stt_metadata=SPEECH_METADATA,
        stt_stream=_chunks(pcm),
        pipeline_id=pipeline,
        device_id=device,
    )
    sizes = await asyncio.gather(*listened)
    return bool(sizes) and all(sizes)


async def _announcement(hass: HomeAssistant, text: str, message_class: str) -> bool:
    """Speak an automation's announcement with the class it sets; whether audio came."""
    stream = tts.async_create_stream(
        hass, "tts.anima_voice", "en", {"message_class": message_class}
    )
    stream.async_set_message(text)
    return sum([len(data) async for data in stream.async_stream_result()]) > 0


def _pcm(folder: Path, text: str, number: int) -> bytes:
    with wave.open(str(spoken(folder, text, name=f"heard-{number}")), "rb") as reader:
        return reader.readframes(reader.getnframes())


@pytest.mark.parametrize("levers", LEVERS, ids=[levers.name for levers in LEVERS])
async def test_household_day(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    openai_server: FakeOpenAIServer,
    piper_server: SpeechServer,
    formant_server: SpeechServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    levers: Levers,
) -> None:
    """Live the household day under `levers`; add the run's figures to ANIMA_BENCH_OUT."""
    cloud_server = openai_server
    pipeline, kitchen = await _house(
        hass, hass_ws_client, cloud_server, piper_server, formant_server, levers, tmp_path
    )
    cloud = Cloud(PromptCache(PROMPT_CACHE_TTL) if levers.prompt_cache else None)
    cloud_server.responder = cloud.respond
    if not levers.speech_cache:
        monkeypatch.setattr(speaking, "speech_cache", lambda _hass: SpeechCache(0, 0))
    planned: list[tuple[str, Tier]] = []
    plan_speech = speaking.plan_speech

    def spy(*args: Any) -> speaking.SpeechPlan:  # what Anima chose: the class and the tier
        plan = plan_speech(*args)
        planned.append((str(args[2]), plan.tier))
        return plan

    monkeypatch.setattr(speaking, "plan_speech", spy)
    ledger = AnimaData.of(hass).meter.ledger
    costs = {"stt": Decimal(0), "llm": Decimal(0), "tts": Decimal(0)}
    turns, local, agreed, answers, delivered = 0, 0, 0, 0, 0
    tts_saved = Decimal(0)
    confusion: dict[str, dict[str, int]] = {}  # expected class -> class Anima used -> events
    started = time.perf_counter()
    for number, event in enumerate(EVENTS):
        cloud.event, cloud.now = event, number * DAY_SECONDS / len(EVENTS)
        before, spoken_before, chats_before = (
            len(ledger.records()),
            len(planned),
            _chats(cloud_server),
        )
        if heard := event.get("heard"):
            cloud_server.reply(Reply.text(heard), endpoint="transcriptions")
            pcm = _pcm(tmp_path, heard, number)
            heard_reply = await _spoken_turn(hass, pipeline, kitchen, pcm)
        else:
            heard_reply = await _announcement(hass, event["reply"], event["class"])
        await hass.async_block_till_done()
        # The day's turns are ten minutes apart: longer than Home Assistant keeps a message's
        # audio in memory (5 minutes). Its file cache is off (see _house).
        hass.data[DATA_TTS_MANAGER].mem_cache.clear()
        turns += 1
        if event["kind"] == "command" and _chats(cloud_server) == chats_before:
            local += 1  # answered by Home Assistant's intents: no model call
        chosen = planned[spoken_before:]
        klass, tier = chosen[0] if chosen else ("none", Tier.EARCON)
        agreed += klass == event["class"]
        confusion.setdefault(event["class"], {}).setdefault(klass, 0)
        confusion[event["class"]][klass] += 1
        if event["class"] == "answer":
            answers += 1
            delivered += heard_reply and tier.spoken
        for record in ledger.records()[before:]:
            kind = "stt" if record.kind is Kind.STT else "tts" if record.kind is Kind.TTS else "llm"
            costs[kind] += record.cost
            if record.outcome == OUTCOME_CACHE_HIT:
                tts_saved += ledger.prices.price(record).cost
    result = {
        "turns_run": turns,
        "commands_answered_locally": local,
        "class_agreement_pct": round(100.0 * agreed / turns, 1),
        "classes": confusion,
        "answers_delivered_pct": round(100.0 * delivered / answers, 1) if answers else 100.0,
        "costs": {kind: float(round(cost, 8)) for kind, cost in costs.items()},
        "total": float(round(sum(costs.values(), Decimal(0)), 8)),
        "prompt_tokens": cloud.prompt_tokens,
        "cached_prompt_tokens": cloud.cached_tokens,
        "speech_cache_saved": float(round(tts_saved, 8)),
        "tiers": {tier: sum(1 for _, t in planned if t == tier) for tier in Tier},
        "seconds": round(time.perf_counter() - started, 1),
    }
    out = Path(os.environ["ANIMA_BENCH_OUT"])
    current = json.loads(out.read_text()) if out.exists() else {}
    out.write_text(json.dumps(current | {levers.name: result}))


def _chats(server: FakeOpenAIServer) -> int:
    return sum(1 for r in server.requests if r.path.endswith("/chat/completions"))
