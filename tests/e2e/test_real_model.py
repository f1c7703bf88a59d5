"""Anima's agent on a real model: llama-server with Qwen2.5-Coder-0.5B, in a real Home Assistant.

No fake anywhere: Whisper hears, the local model answers (temperature 0, so every run is the
same), Piper speaks, and the model's own tool call turns a template light on. The model reads a
cold Assist prompt for many seconds on these cores: local connections get 120 s to their first
token. A second server, given a chat template whose example names a tool without its namespace,
fails the way real servers do: its parser rejects the model's tool call and it ends the stream
with an error event.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from anima_satellite.satellite import SatelliteSettings
from scripts.hassctl import HassProcess, chain_options, free_port
from tests.e2e.test_smoke import wait_for_state, wyoming_steps
from tests.e2e.test_voice_loop import KITCHEN_LIGHT, _satellite_asks
from tests.fixtures.local_llm import ROOT, LocalLLM, running_local_llm
from tests.fixtures.spoken import spoken
from tests.integration.anima_setup import anima_pipeline
from tests.integration.satellites import transcribe, words

pytestmark = pytest.mark.timeout(900)


@pytest_asyncio.fixture
async def model_hass(
    tmp_path: Path, local_llm: LocalLLM, piper_server: Any, whisper_server: Any
) -> AsyncIterator[HassProcess]:
    """A real hass with a kitchen light and Anima on the local model, Whisper and Piper."""
    hass = HassProcess(
        tmp_path / "config", port=free_port(), extra_config=KITCHEN_LIGHT, start_timeout=240
    )
    async with hass:
        await hass.websocket({"type": "config/core/update", "internal_url": hass.base_url})
        llm = [
            {"next_step_id": "openai_compatible"},
            {"preset": "llama_cpp"},
            {"base_url": local_llm.base_url},
        ]
        for steps in (
            wyoming_steps(whisper_server.host, whisper_server.port),
            wyoming_steps(piper_server.host, piper_server.port),
            llm,
            [{"next_step_id": "hub"}],
        ):
            result = await hass.config_flow("anima", steps)
            await wait_for_state(hass, result["result"]["entry_id"], "loaded")
        hub = next(e for e in await hass.entries("anima") if e["title"] == "Anima")

        def pick(name: str, wanted: str, **extra: Any) -> Any:
            def choose(form: dict[str, Any]) -> dict[str, Any]:
                chain = [v for v, label in chain_options(form) if wanted in label][:1]
                return {"name": name, "chain": chain, **extra}

            return choose

        for kind, choose in (
            ("listener", pick("Listener", "model")),
            ("agent", pick("Assistant", local_llm.model, temperature=0)),  # Assist API: default
            ("voice", pick("Voice", "joe")),
        ):
            created = await hass.subentry_flow(hub["entry_id"], kind, choose)
            assert created["type"] == "create_entry", created
        await wait_for_state(hass, hub["entry_id"], "loaded")
        yield hass


async def _pipeline(hass: HassProcess, *, prefer_local: bool) -> str:
    pipeline = await hass.websocket({**anima_pipeline(), "prefer_local_intents": prefer_local})
    await hass.websocket(
        {"type": "assist_pipeline/pipeline/set_preferred", "pipeline_id": pipeline["id"]}
    )
    return str(pipeline["id"])


async def _said(hass: HassProcess, pipeline: str, text: str, conversation: str | None) -> Any:
    """Run the pipeline on text; return its intent-end data (intent_output, processed_locally)."""
    url = hass.base_url.replace("http", "ws", 1) + "/api/websocket"
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        await ws.receive_json()
        await ws.send_json({"type": "auth", "access_token": hass.token})
        await ws.receive_json()
        await ws.send_json(
            {
                "id": 1,
                "type": "assist_pipeline/run",
                "start_stage": "intent",
                "end_stage": "intent",
                "input": {"text": text},
                "pipeline": pipeline,
                "conversation_id": conversation,
                "timeout": 600,
            }
        )
        output = None
        while (message := await ws.receive_json(timeout=600)).get("type") != "event" or (
            message["event"]["type"] != "run-end"
        ):
            event = message.get("event", {})
            assert event.get("type") != "error", event
            if event.get("type") == "intent-end":
                output = event["data"]
    assert output is not None
    return output


async def test_a_spoken_question_is_answered_out_loud_by_the_real_model(
    model_hass: HassProcess, tmp_path: Path, whisper_server: Any
) -> None:
    await _pipeline(model_hass, prefer_local=True)
    sat = SatelliteSettings(
        name="Hall", mic_file=spoken(tmp_path, "What is the capital of France?"), played=[]
    )
    async with _satellite_asks(model_hass, sat):
        pass
    assert "paris" in await transcribe(whisper_server, sat.played[0])


async def test_the_real_model_turns_the_kitchen_light_on_with_a_tool_call(
    model_hass: HassProcess,
) -> None:
    """Not preferring local commands: the model itself calls HassTurnOn."""
    pipeline = await _pipeline(model_hass, prefer_local=False)
    output = await _said(model_hass, pipeline, "Turn on the kitchen light", None)
    assert output["processed_locally"] is False
    state = await model_hass.request("GET", "/api/states/light.kitchen_light")
    assert state["state"] == "on"


async def test_the_model_answers_after_a_turn_home_assistant_answered_itself(
    model_hass: HassProcess,
) -> None:
    """The same conversation: Home Assistant tells the time, then the model gets the history."""
    pipeline = await _pipeline(model_hass, prefer_local=True)
    first = await _said(model_hass, pipeline, "What time is it?", None)
    assert first["processed_locally"] is True
    conversation = first["intent_output"]["conversation_id"]
    answer = await _said(model_hass, pipeline, "What is the capital of France?", conversation)
    assert answer["processed_locally"] is False
    assert "paris" in words(answer["intent_output"]["response"]["speech"]["plain"]["speech"])


async def _next_turn(hass: HassProcess, ready: asyncio.Event) -> dict[str, Any]:
    """Wait for the next `anima_turn` event (`ready` set once subscribed); return its data."""
    url = hass.base_url.replace("http", "ws", 1) + "/api/websocket"
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        await ws.receive_json()
        await ws.send_json({"type": "auth", "access_token": hass.token})
        await ws.receive_json()
        await ws.send_json({"id": 1, "type": "subscribe_events", "event_type": "anima_turn"})
        assert (await ws.receive_json())["success"]
        ready.set()
        while (message := await ws.receive_json(timeout=600)).get("type") != "event":
            pass
    return dict(message["event"]["data"])


async def test_a_real_servers_error_event_mid_stream_is_the_models_failure_not_the_providers(
    model_hass: HassProcess, tmp_path: Path
) -> None:
    """The server rejects the model's tool call mid-stream: the turn is asked again without
    tools and answered in words, both calls are in the ledger, and the breaker stays closed."""
    template = (ROOT / "scripts" / "local-llm.jinja").read_text()
    assert "intent__HassTurnOff" in template
    clumsy = tmp_path / "bare-tool-names.jinja"
    clumsy.write_text(template.replace("intent__HassTurnOff", "HassTurnOff"))
    with running_local_llm(tmp_path / "clumsy.log", template=clumsy) as server:
        steps = [
            {"next_step_id": "openai_compatible"},
            {"preset": "llama_cpp"},
            {"base_url": server.base_url},
        ]
        connection = (await model_hass.config_flow("anima", steps))["result"]
        await wait_for_state(model_hass, connection["entry_id"], "loaded")
        hub = next(e for e in await model_hass.entries("anima") if e["title"] == "Anima")

        def choose(form: dict[str, Any]) -> dict[str, Any]:
            chain = [v for v, label in chain_options(form) if v.startswith(connection["entry_id"])]
            return {"name": "Clumsy", "chain": chain[:1], "temperature": 0}

        assert (await model_hass.subentry_flow(hub["entry_id"], "agent", choose))["type"] == (
            "create_entry"
        )
        await wait_for_state(model_hass, hub["entry_id"], "loaded")
        pipeline = await model_hass.websocket(
            {**anima_pipeline("Clumsy"), "conversation_engine": "conversation.anima_clumsy"}
        )
        subscribed = asyncio.Event()
        turn = asyncio.create_task(_next_turn(model_hass, subscribed))
        await subscribed.wait()
        output = await _said(model_hass, pipeline["id"], "Turn on the kitchen light", None)
        record = await asyncio.wait_for(turn, 600)
    assert "unparsed peg-native output" in server.log_path.read_text()  # it did fail
    speech = output["intent_output"]["response"]["speech"]["plain"]["speech"]
    assert words(speech), speech  # words, not silence
    assert "can't reach" not in speech
    assert "lost my connection" not in speech
    outcomes = [use["outcome"] for use in record["providers"]]
    assert outcomes[0] == "output_failed", record["providers"]
    assert len(outcomes) >= 2, record["providers"]  # asked again; the failed call kept
    entities = await model_hass.websocket({"type": "config/entity_registry/list"})
    (health_id,) = [
        e["entity_id"]
        for e in entities
        if e["config_entry_id"] == connection["entry_id"] and "_health" in e["entity_id"]
    ]
    health = await model_hass.request("GET", f"/api/states/{health_id}")
    assert health["state"] == "closed"  # the server is fine: its model erred
