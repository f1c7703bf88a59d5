"""Scenario of bench/faults.py: every fault case (faults_cases.py) as a spoken turn.

Each case is a fresh Home Assistant with its assist pipeline and Anima: a listener (the cloud's
transcription, which hears the question), an agent on the fake OpenAI service with the Assist
API (a second service as its backup when the case has one), the formant voice (espeak-ng over
Wyoming, real), and the porch satellite's endpoint. The turn's audio is streamed in from the
satellite's device; what the pipeline said, whether audio came (speech or the error earcon),
and when its first byte came are what the case reports, with the case's log, the diagnostics of
every entry and the reprs of the live objects written to ANIMA_BENCH_ARTIFACTS for the secret
search. The API keys and the pairing key come from ANIMA_BENCH_SECRETS (made fresh each run).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import contextlib
import json
import logging
import os
from pathlib import Path
import time
from typing import Any

from homeassistant.components import assist_pipeline, tts
from homeassistant.core import Context, HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from anima_satellite.endpoint_service import ServiceSettings, serve as serve_endpoint
from anima_satellite.protocol import parse_key
from custom_components.anima import diagnostics
from custom_components.anima.const import DOMAIN
from custom_components.anima.core.endpoints import (
    CAMERA,
    SATELLITE,
    SERVICE,
    SERVICE_KEY,
    VISION_MODE,
)
from custom_components.anima.core.profiles import (
    PROFILE_LISTENER,
    PROFILE_VOICE,
    Link,
)
from custom_components.anima.runtime.data import AnimaData
from scripts.hassctl import free_port
from tests.fakes.ip_camera import ip_camera
from tests.fakes.openai_server import FakeOpenAIServer, RecordedRequest, Reply
from tests.fakes.wyoming_servers import LyingVoiceServer
from tests.fixtures.speech_servers import SpeechServer
from tests.integration.anima_setup import (
    SPEECH_METADATA,
    add_hub,
    add_openai,
    add_wyoming,
    anima_pipeline,
    assist_agent,
    endpoint,
    mjpeg_camera,
    profile,
    satellite_device,
)
from tests.satellite.helpers import until_listening

from .faults_cases import (
    ANSWER,
    BACKUP_ANSWER,
    CAMERA_ANSWER,
    CASES,
    LOOK_QUESTION,
    QUESTION,
    Case,
    got,
)
from .harness import on_reply_audio

SECRETS: dict[str, str] = json.loads(os.environ.get("ANIMA_BENCH_SECRETS", "{}"))
ARTIFACTS = Path(os.environ.get("ANIMA_BENCH_ARTIFACTS", "."))
SATELLITE_ENTITY = "assist_satellite.porch"
EARCON_LINE = "playing the error earcon"
SAVE_FAILED = "Saving the cost ledger failed"
WAV_HEADER = 44


@contextlib.asynccontextmanager
async def _servers(case: Case) -> AsyncIterator[tuple[FakeOpenAIServer, ...]]:
    """The agent's provider, its backup and the listener's, each with its own key."""
    keys = (SECRETS.get("primary"), SECRETS.get("backup"), SECRETS.get("listener"))
    async with contextlib.AsyncExitStack() as stack:
        servers = [await stack.enter_async_context(FakeOpenAIServer(key)) for key in keys]
        primary, backup, listener = servers
        primary.reply(*case.replies)
        primary.default_reply = Reply.text(CAMERA_ANSWER if case.kind == "camera" else ANSWER)
        backup.default_reply = Reply.text(BACKUP_ANSWER)
        listener.models = ["gpt-4o-mini-transcribe"]
        question = LOOK_QUESTION if case.kind == "camera" else QUESTION
        listener.reply(Reply.text(question), Reply.text(question), endpoint="transcriptions")
        yield primary, backup, listener


async def _house(
    hass: HomeAssistant,
    ws: WebSocketGenerator,
    case: Case,
    servers: tuple[FakeOpenAIServer, ...],
    voices: list[SpeechServer | LyingVoiceServer],
    camera: str | None,
    service: str | None,
) -> tuple[str, str]:
    """Anima as the case has it, and its pipeline; the pipeline and the satellite's device."""
    assert await async_setup_component(hass, "assist_pipeline", {})
    assert await async_setup_component(hass, "tts", {})
    primary, backup, listener = servers
    agents = [await add_openai(hass, primary, "Cloud", preset="openai")]
    if case.backup and case.kind != "voice":
        agents.append(await add_openai(hass, backup, "Backup", preset="openai"))
    ears = await add_openai(hass, listener, "Ears", preset="openai")
    voice_links = []
    for number, server in enumerate(voices):
        entry = await add_wyoming(hass, server, f"Voice {number}")  # type: ignore[arg-type]
        lies = isinstance(server, LyingVoiceServer)
        voice_links.append(Link(entry.entry_id, voice="liar" if lies else "en-us"))
    device = satellite_device(hass, "Porch")
    where: dict[str, Any] = {SATELLITE: SATELLITE_ENTITY, VISION_MODE: "on_demand"}
    if camera is not None:
        where[CAMERA] = camera
    if service is not None:
        where |= {SERVICE: service, SERVICE_KEY: SECRETS.get("pairing", "")}
    await add_hub(
        hass,
        assist_agent(*(entry.entry_id for entry in agents)),
        profile(PROFILE_LISTENER, "Listener", [Link(ears.entry_id, "gpt-4o-mini-transcribe")]),
        profile(PROFILE_VOICE, "Voice", voice_links),
        endpoint("Porch", device, **where),
    )
    client = await ws(hass)
    await client.send_json_auto_id(anima_pipeline("Faults"))
    return str((await client.receive_json())["result"]["id"]), device


async def _turn(hass: HomeAssistant, pipeline: str, device: str) -> dict[str, Any]:
    """One spoken turn (a second of the satellite's audio); what came back, and when."""
    heard: list[str] = []
    first_audio: list[float] = []
    ended = [0.0]
    listened: list[asyncio.Task[int]] = []

    async def audio() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield bytes(3200)
        ended[0] = time.monotonic()

    async def listen(token: str) -> int:
        stream = tts.async_get_stream(hass, token)
        assert stream is not None
        received = 0
        async for data in stream.async_stream_result():
            received += len(data)
            if received > WAV_HEADER and not first_audio:
                first_audio.append(time.monotonic())
        return received - WAV_HEADER

    hear_reply = on_reply_audio(
        lambda token: listened.append(hass.async_create_task(listen(token)))
    )

    def on_event(event: assist_pipeline.PipelineEvent) -> None:
        hear_reply(event)
        if event.type is assist_pipeline.PipelineEventType.INTENT_END:
            output = (event.data or {})["intent_output"]
            heard.append(output["response"]["speech"]["plain"]["speech"])

    await assist_pipeline.async_pipeline_from_audio_stream(
        hass,
        context=Context(),
        event_callback=on_event,
        stt_metadata=SPEECH_METADATA,
        stt_stream=audio(),
        pipeline_id=pipeline,
        device_id=device,
    )
    sizes = await asyncio.gather(*listened)
    return {
        "heard": heard[-1] if heard else "",
        "audio_bytes": sum(sizes),
        "ended": ended[0],
        "first_audio": first_audio[0] if first_audio else None,
    }


def _chats(server: FakeOpenAIServer) -> list[RecordedRequest]:
    return [r for r in server.requests if r.path.endswith("/chat/completions")]


async def _artifacts(hass: HomeAssistant, case: Case, log: str) -> None:
    """The case's log, every entry's diagnostics and the live objects' reprs, for the search."""
    name = case.id.replace("/", "-")
    entries = hass.config_entries.async_entries(DOMAIN)
    found = {
        entry.title: await diagnostics.async_get_config_entry_diagnostics(hass, entry)
        for entry in entries
    }
    reprs = [repr(getattr(entry, "runtime_data", None)) for entry in entries]
    anima = AnimaData.of(hass)
    reprs += [repr(anima), repr(anima.router.snapshot()), repr(anima.meter.ledger.records())]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"{name}.log").write_text(log, encoding="utf-8")
    (ARTIFACTS / f"{name}.diagnostics.json").write_text(json.dumps(found, default=str))
    (ARTIFACTS / f"{name}.repr.txt").write_text("\n".join(reprs), encoding="utf-8")


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
async def test_fault(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    formant_server: SpeechServer,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
    case: Case,
) -> None:
    """Run the case's turn; add its row to ANIMA_BENCH_OUT."""
    caplog.set_level(logging.DEBUG, logger="custom_components.anima")
    async with contextlib.AsyncExitStack() as stack:
        servers = await stack.enter_async_context(_servers(case))
        voices: list[SpeechServer | LyingVoiceServer] = [formant_server]
        liar: LyingVoiceServer | None = None
        if case.kind == "voice":
            liar = LyingVoiceServer(case.lie, filler=64 << 20 if case.lie.startswith(b"{") else 0)
            await stack.enter_async_context(liar)
            voices = [liar, formant_server] if case.backup else [liar]
        camera = service = None
        asked_camera: list[float] = []
        if case.name == "camera_slow":
            url, asked_camera = await stack.enter_async_context(ip_camera(delay=60))
            camera = await mjpeg_camera(hass, url)
        elif case.name == "camera_missing":
            service = await _endpoint_service(stack)
        pipeline, device = await _house(
            hass, hass_ws_client, case, servers, voices, camera, service
        )
        records_before = len(AnimaData.of(hass).meter.ledger.records())
        detail = ""
        if case.kind == "disk":
            store = Path(hass.config.path(".storage", "anima.ledger"))
            store.unlink(missing_ok=True)
            store.mkdir(parents=True, exist_ok=True)  # the ledger's file cannot be written now
        turn = await _turn(hass, pipeline, device)
        if case.kind == "disk":
            async with asyncio.timeout(20):  # the ledger's timer saves within 10 s of a record
                while SAVE_FAILED not in caplog.text:  # noqa: ASYNC110 - the log is the signal
                    await asyncio.sleep(0.2)
            turn = await _turn(hass, pipeline, device)  # and Home Assistant still answers
            ledger = AnimaData.of(hass).meter.ledger
            kept = len(ledger.records()) - records_before
            lines = caplog.text.count(SAVE_FAILED)
            detail = (
                f"the refusal said in {lines} line; {kept} records of two turns kept, "
                f"{ledger.unsaved} waiting for the disk"
            )
        await hass.async_block_till_done()
        fault_at = _fault_at(case, servers[0], turn, liar, asked_camera)
    earcon = EARCON_LINE in caplog.text
    backup_voice = liar is not None and bool(liar.asked) and not earcon
    outcome = got(turn["heard"], earcon, backup_voice)
    tracebacks = sum(1 for record in caplog.records if _traceback(record))
    first = turn["first_audio"]
    row = {
        "case": case.id,
        "fault": case.fault,
        "backup": case.backup,
        "expected": str(case.expect),
        "got": str(outcome) if outcome else "something else",
        "as_expected": outcome is case.expect,
        "heard": turn["heard"][:120],
        "heard_characters": len(turn["heard"]),
        "audio_bytes": turn["audio_bytes"],
        "answered": turn["audio_bytes"] > 0 and tracebacks == 0,
        "tracebacks": tracebacks,
        "first_audio_s": None if first is None else round(first - turn["ended"], 2),
        "after_fault_s": None if first is None else round(first - fault_at, 2),
        "records": len(AnimaData.of(hass).meter.ledger.records()) - records_before,
        "detail": detail,
    }
    await _artifacts(hass, case, caplog.text)
    out = Path(os.environ["ANIMA_BENCH_OUT"])
    rows = json.loads(out.read_text())["cases"] if out.exists() else []
    out.write_text(json.dumps({"cases": [*rows, row]}))


def _traceback(record: logging.LogRecord) -> bool:
    """A traceback Home Assistant or Anima logged (not asyncio's debug notes of the test loop)."""
    if record.levelno < logging.WARNING:
        return False
    message = record.getMessage()
    return bool(record.exc_info) or "Traceback" in message or "never retrieved" in message


def _fault_at(
    case: Case,
    primary: FakeOpenAIServer,
    turn: dict[str, Any],
    liar: LyingVoiceServer | None,
    asked_camera: list[float],
) -> float:
    """When the fault happened: the faulty answer's moment, plus the patience it used up."""
    if liar is not None and liar.asked:
        return liar.asked[0]
    if asked_camera:
        return asked_camera[0] + case.patience
    chats = _chats(primary)
    if case.kind == "llm" and chats:
        return chats[0].at + case.patience
    if case.kind == "camera" and chats:  # the look began as the model's tool call came
        return chats[0].at
    return float(turn["ended"])


async def _endpoint_service(stack: contextlib.AsyncExitStack) -> str:
    """The porch satellite's endpoint service, paired with the run's key, with no camera."""
    port = free_port()
    settings = ServiceSettings(name="Porch", key=parse_key(SECRETS["pairing"]))
    task = asyncio.create_task(serve_endpoint(f"tcp://127.0.0.1:{port}", settings))

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    stack.push_async_callback(stop)
    await until_listening(port)
    return f"127.0.0.1:{port}"
