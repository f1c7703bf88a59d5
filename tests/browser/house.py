"""What a later step of the walk needs from the earlier ones, made over REST when it is missing.

The walk's tests build the house through the UI in order; each test also runs alone
(`pytest -k`), because these make sure the connections, hub, profiles and pipeline it starts
from are there, without touching what the UI made.
"""

from __future__ import annotations

import asyncio
from typing import Any

from scripts.hassctl import HassError, HassProcess, chain_options
from tests.browser.conftest import SATELLITE_NAME
from tests.browser.ui import NAMES
from tests.e2e.test_smoke import wyoming_steps
from tests.e2e.test_voice_loop import bind_endpoint
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fixtures.speech_servers import SpeechServer
from tests.integration.anima_setup import anima_pipeline

# The models each profile of the walk uses: the fake cloud's chat and transcription models and
# Piper's one installed voice.
PROFILE_MODELS = {"agent": "gpt-4.1-mini", "listener": "whisper-1", "voice": "joe"}


def openai_preset_steps(openai: FakeOpenAIServer) -> list[dict[str, Any]]:
    """The walk's OpenAI connection: the OpenAI preset, at the fake cloud's address (a proxy)."""
    return [
        {"next_step_id": "openai_compatible"},
        {"preset": "openai"},
        {"base_url": openai.base_url, "api_key": openai.api_key},
    ]


async def ensure_connections(
    hass: HassProcess, openai: FakeOpenAIServer, piper: SpeechServer
) -> None:
    """The OpenAI-compatible connection to the fake cloud and the Wyoming one to Piper."""
    for steps in (openai_preset_steps(openai), wyoming_steps(piper.host, piper.port)):
        result = await hass.config_flow("anima", steps)
        if result["type"] != "create_entry" and result.get("reason") != "already_configured":
            raise HassError(f"connection not added: {result}")


async def hub_id(hass: HassProcess) -> str | None:
    """The hub's entry id: the one entry that has profile subentries to offer."""
    hubs = [e for e in await hass.entries("anima") if e.get("supported_subentry_types")]
    return hubs[0]["entry_id"] if hubs else None


async def ensure_hub(hass: HassProcess, openai: FakeOpenAIServer, piper: SpeechServer) -> str:
    """The connections, the hub and its agent, listener and voice profiles; the hub's id."""
    await ensure_connections(hass, openai, piper)
    if (hub := await hub_id(hass)) is None:
        await hass.config_flow("anima", [{"next_step_id": "hub"}])
        hub = await hub_id(hass)
        assert hub is not None
    have = {
        s["subentry_type"]
        for s in await hass.websocket({"type": "config_entries/subentries/list", "entry_id": hub})
    }
    for kind, model in PROFILE_MODELS.items():
        if kind not in have:

            def choose(
                form: dict[str, Any], kind: str = kind, model: str = model
            ) -> dict[str, Any]:
                chain = [value for value, label in chain_options(form) if model in label][:1]
                return {"name": NAMES[kind], "chain": chain}

            await hass.subentry_flow(hub, kind, choose)
    return hub


async def ensure_preferred_pipeline(
    hass: HassProcess, openai: FakeOpenAIServer, piper: SpeechServer, name: str
) -> None:
    """A pipeline of Anima's profiles called `name`, preferred."""
    await ensure_hub(hass, openai, piper)
    pipelines = await hass.websocket({"type": "assist_pipeline/pipeline/list"})
    ours = [p for p in pipelines["pipelines"] if p["name"] == name]
    pipeline = ours[0] if ours else await hass.websocket(anima_pipeline(name))
    if pipelines["preferred_pipeline"] != pipeline["id"]:
        await hass.websocket(
            {"type": "assist_pipeline/pipeline/set_preferred", "pipeline_id": pipeline["id"]}
        )


async def adopted_satellite(hass: HassProcess) -> dict[str, Any] | None:
    """The Wyoming entry of the session's satellite, once Home Assistant adopted it."""
    adopted = [e for e in await hass.entries("wyoming") if e["title"] == SATELLITE_NAME]
    return adopted[0] if adopted else None


async def ensure_adopted(hass: HassProcess, port: int) -> None:
    """The session's satellite, adopted and loaded by Home Assistant's Wyoming integration (as a
    user adds Wyoming Protocol with its host and port)."""
    async with asyncio.timeout(60):  # the process may still be starting
        while (entry := await adopted_satellite(hass)) is None or entry["state"] != "loaded":
            if entry is None:
                await hass.config_flow("wyoming", [{"host": "127.0.0.1", "port": port}])
            await asyncio.sleep(0.5)


async def ensure_endpoint(
    hass: HassProcess, openai: FakeOpenAIServer, piper: SpeechServer, port: int
) -> str:
    """The session's satellite adopted and bound as an endpoint with the walk's agent and
    voice; the id of the endpoint's own Anima device (where its triggers and actions are)."""
    hub = await ensure_hub(hass, openai, piper)
    await ensure_adopted(hass, port)
    subentries = await hass.websocket({"type": "config_entries/subentries/list", "entry_id": hub})
    if not any(s["subentry_type"] == "endpoint" for s in subentries):
        satellite = await adopted_satellite(hass)
        assert satellite is not None
        (voice,) = [s["subentry_id"] for s in subentries if s["subentry_type"] == "voice"]
        await bind_endpoint(hass, satellite["entry_id"], voice=voice)  # waits for the reload
    devices = await hass.websocket({"type": "config/device_registry/list"})
    (ours,) = [d for d in devices if d["model"] == "Endpoint" and hub in d["config_entries"]]
    return str(ours["id"])
