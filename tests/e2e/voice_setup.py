"""Anima as a real Home Assistant's voice, configured over REST as a user would: Whisper, Piper
(and the formant voice, if given) and the fake cloud as connections, the hub with a listener,
an agent (Assist on) and a voice, and their pipeline preferred."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from scripts.hassctl import HassProcess, chain_options
from tests.e2e.test_smoke import openai_steps, wait_for_state, wyoming_steps
from tests.fakes.openai_server import FakeOpenAIServer
from tests.integration.anima_setup import anima_pipeline


async def setup_anima_voice(
    hass: HassProcess,
    cloud: FakeOpenAIServer,
    piper: Any,
    whisper: Any,
    formant: Any | None = None,
) -> str:
    """Configure Anima as the preferred pipeline; return the voice profile's subentry id.

    With `formant`, the voice's formant tier is espeak-ng: notifications (announcements) are
    spoken in it, as the default policy wants.
    """
    # Announcements are fetched by ffmpeg from Home Assistant's own URL: make it loopback
    # (left to itself it picks this machine's network address, which the sandbox may not route).
    await hass.websocket({"type": "config/core/update", "internal_url": hass.base_url})
    assert cloud.api_key is not None
    servers = [whisper, piper, *([formant] if formant is not None else [])]
    titles = []
    for steps in (
        *(wyoming_steps(server.host, server.port) for server in servers),
        openai_steps(cloud.base_url, cloud.api_key),
        [{"next_step_id": "hub"}],
    ):
        result = await hass.config_flow("anima", steps)
        await wait_for_state(hass, result["result"]["entry_id"], "loaded")
        titles.append(result["title"])
    hub = next(e for e in await hass.entries("anima") if e["title"] == "Anima")

    def pick(name: str, wanted: str, **extra: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
        def choose(form: dict[str, Any]) -> dict[str, Any]:
            options = chain_options(form)
            chain = [v for v, label in options if wanted in label][:1]
            if name == "Voice" and formant is not None:  # espeak-ng's American English
                robotic = f"{titles[2]} ·"
                extra["formant_chain"] = [
                    v for v, label in options if label.startswith(robotic) and "America" in label
                ][:1]
            return {"name": name, "chain": chain, **extra}

        return choose

    for kind, choose in (
        ("listener", pick("Listener", "model")),
        ("agent", pick("Assistant", "gpt-4.1-mini", llm_hass_api=["assist"])),
        ("voice", pick("Voice", "joe")),
    ):
        created = await hass.subentry_flow(hub["entry_id"], kind, choose)
        assert created["type"] == "create_entry", created
    await wait_for_state(hass, hub["entry_id"], "loaded")
    pipeline = await hass.websocket(anima_pipeline())
    await hass.websocket(
        {"type": "assist_pipeline/pipeline/set_preferred", "pipeline_id": pipeline["id"]}
    )
    subentries = await hass.websocket(
        {"type": "config_entries/subentries/list", "entry_id": hub["entry_id"]}
    )
    return str(next(s["subentry_id"] for s in subentries if s["subentry_type"] == "voice"))
