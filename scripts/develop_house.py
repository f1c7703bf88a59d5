#!/usr/bin/env python3
"""The house `scripts/develop` runs: a real Home Assistant with Anima as a working assistant.

Run with .venv-hass's Python by scripts/develop, which starts the local servers first. It starts
Home Assistant (onboarded with the dev credentials the first time) and makes, unless they are
there already:

- Anima connections to the local speech servers (Piper, faster-whisper, the formant voice) and
  to the local LLM (llama.cpp server, scripts/local-llm);
- the hub with a listener (Whisper), a voice (Piper's Joe; the formant voice for
  notifications) and an agent (the local model, with the Assist API: it can control the house);
- a small house to talk to: a kitchen light, a living room lamp, a hallway light and a coffee
  machine, in their areas, with recorder, history and logbook;
- the Assist pipeline "Anima" (Anima's listener, agent and voice; Home Assistant answers device
  commands itself first), made the preferred one.

Then it prints what to try and waits until SIGINT or SIGTERM, and stops Home Assistant.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Mapping
import signal
import sys
import time
from typing import Any

from hassctl import ROOT, HassError, HassProcess, chain_options

#: The house's devices (template entities over input booleans), for configuration.yaml.
HOUSE = """
# The develop house (scripts/develop_house.py). default_config would fail offline (go2rtc):
# its parts a house needs are listed instead.
recorder:
history:
logbook:
input_boolean:
  kitchen_light_power: {name: Kitchen light power}
  living_room_lamp_power: {name: Living room lamp power}
  hallway_light_power: {name: Hallway light power}
  coffee_machine_power: {name: Coffee machine power}
template:
  - light:
"""
#: name, area: the lights and the switch of the house.
LIGHTS = {"Kitchen light": "Kitchen", "Living room lamp": "Living room", "Hallway light": "Hallway"}
SWITCHES = {"Coffee machine": "Kitchen"}
TRY = """\
  Try it: open the URL, log in, click the Assist button (top right) and type or say
    turn on the kitchen light          (Home Assistant does it itself: no model call)
    what is the capital of France?     (answered by the local model, Qwen2.5-Coder-0.5B)
    is the hallway light on?
"""


def _slug(name: str) -> str:
    return name.lower().replace(" ", "_")


def _template(name: str, domain: str) -> str:
    power = f"input_boolean.{_slug(name)}_power"
    return f"""\
      - name: {name}
        unique_id: anima_develop_{_slug(name)}
        state: "{{{{ is_state('{power}', 'on') }}}}"
        turn_on: {{action: input_boolean.turn_on, target: {{entity_id: {power}}}}}
        turn_off: {{action: input_boolean.turn_off, target: {{entity_id: {power}}}}}
"""


def house_config() -> str:
    """The house's part of configuration.yaml."""
    lights = "".join(_template(name, "light") for name in LIGHTS)
    switches = "".join(_template(name, "switch") for name in SWITCHES)
    return HOUSE + lights + "  - switch:\n" + switches


async def _connect(hass: HassProcess, what: str, steps: list[Mapping[str, Any]]) -> None:
    """Add an Anima connection (later runs: it aborts as already configured)."""
    try:
        result = await hass.config_flow("anima", steps)
        outcome = result.get("reason") or result.get("errors") or result["type"]
    except HassError as err:  # keep Home Assistant running: the developer can look
        outcome = f"failed: {err}"
    print(f"develop: Anima connection to {what}: {outcome}")


async def _profiles(hass: HassProcess, formant: str | None, llm: str | None) -> None:
    """The hub with a listener, a voice and (with a local LLM) an agent, each once."""
    if not any(e["title"] == "Anima" for e in await hass.entries("anima")):
        await hass.config_flow("anima", [{"next_step_id": "hub"}])
    hub = next(e for e in await hass.entries("anima") if e["title"] == "Anima")
    subentries = await hass.websocket(
        {"type": "config_entries/subentries/list", "entry_id": hub["entry_id"]}
    )
    present = {sub["subentry_type"] for sub in subentries}

    def listener(form: dict[str, Any]) -> dict[str, Any]:
        return {"name": "Listener", "chain": [value for value, _ in chain_options(form)][:1]}

    def voice(form: dict[str, Any]) -> dict[str, Any]:
        # Piper's Joe speaks answers; the formant voice (espeak-ng) is the formant tier, which
        # speaks notifications (docs/voice-tiers-and-budgets.md).
        options = chain_options(form)
        joe = [value for value, label in options if "joe" in label.lower()][:1]
        robotic = [
            value
            for value, label in options
            if formant and label.startswith(f"{formant} ·") and "America" in label
        ][:1]
        return {"name": "Voice", "chain": joe, "formant_chain": robotic}

    def agent(form: dict[str, Any]) -> dict[str, Any]:
        # The local model only: a house over budget (local providers only) still answers.
        local = [value for value, label in chain_options(form) if label.startswith("llama.cpp")]
        return {"name": "Assistant", "chain": local[:1], "llm_hass_api": ["assist"]}

    wanted = [("listener", listener), ("voice", voice)] + ([("agent", agent)] if llm else [])
    for kind, choose in wanted:
        if kind not in present:
            result = await hass.subentry_flow(hub["entry_id"], kind, choose)
            print(f"develop: Anima {kind} profile: {result.get('reason') or result['type']}")


async def _areas(hass: HassProcess) -> None:
    """Put the house's lights and switch in their areas (made if missing)."""
    listed = await hass.websocket({"type": "config/area_registry/list"})
    areas = {area["name"].casefold(): area["area_id"] for area in listed}  # onboarding made some
    for name in {*LIGHTS.values(), *SWITCHES.values()}:
        if name.casefold() not in areas:
            created = await hass.websocket({"type": "config/area_registry/create", "name": name})
            areas[name.casefold()] = created["area_id"]
    registry = await hass.websocket({"type": "config/entity_registry/list"})
    by_unique = {e["unique_id"]: e["entity_id"] for e in registry if e["platform"] == "template"}
    for name, area in {**LIGHTS, **SWITCHES}.items():
        if (entity_id := by_unique.get(f"anima_develop_{_slug(name)}")) is not None:
            update = {"entity_id": entity_id, "area_id": areas[area.casefold()]}
            await hass.websocket({"type": "config/entity_registry/update", **update})


async def _pipeline(hass: HassProcess) -> None:
    """The Assist pipeline "Anima" of Anima's listener, agent and voice, preferred."""
    listed = await hass.websocket({"type": "assist_pipeline/pipeline/list"})
    anima = next((p for p in listed["pipelines"] if p["name"] == "Anima"), None)
    if anima is None:
        anima = await hass.websocket(
            {
                "type": "assist_pipeline/pipeline/create",
                "name": "Anima",
                "language": "en",
                "conversation_engine": "conversation.anima_assistant",
                "conversation_language": "en",
                "prefer_local_intents": True,  # device commands without a model call
                "stt_engine": "stt.anima_listener",
                "stt_language": "en",
                "tts_engine": "tts.anima_voice",
                "tts_language": "en",
                "tts_voice": None,  # the voice's own
                "wake_word_entity": None,
                "wake_word_id": None,
            }
        )
    if listed["preferred_pipeline"] != anima["id"]:
        await hass.websocket(
            {"type": "assist_pipeline/pipeline/set_preferred", "pipeline_id": anima["id"]}
        )
    print("develop: Assist pipeline 'Anima' (preferred)")


async def develop(args: argparse.Namespace) -> int:
    """Run the house until SIGINT/SIGTERM."""
    main, stopping = asyncio.current_task(), False
    assert main is not None

    def on_signal() -> None:
        nonlocal stopping
        if not stopping:  # a second signal must not interrupt the clean stop
            stopping = True
            main.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, on_signal)
    hass = HassProcess(
        args.config,
        port=args.port,
        host=args.host,
        complete_onboarding=True,
        extra_config=house_config(),
    )
    started = time.monotonic()
    try:
        await hass.start()
        print(f"develop: Home Assistant running after {time.monotonic() - started:.1f} s")
        for server in [*args.wyoming, *([args.formant] if args.formant else [])]:
            host, _, port = server.rpartition(":")
            steps = [{"next_step_id": "wyoming"}, {"host": host, "port": int(port)}]
            await _connect(hass, f"Wyoming {server}", steps)
        if args.llm:
            base_url = f"http://{args.llm}/v1"
            steps = [
                {"next_step_id": "openai_compatible"},
                {"preset": "llama_cpp"},
                {"base_url": base_url},
            ]
            await _connect(hass, f"the local LLM {base_url}", steps)
        try:
            await _profiles(hass, args.formant, args.llm)
            await _areas(hass)
            if args.llm:
                await _pipeline(hass)
        except HassError as err:  # keep Home Assistant running: the developer can look
            print(f"develop: setting up the house failed: {err}", file=sys.stderr)
        for entry in await hass.entries("anima"):
            print(f"develop: Anima entry {entry['title']!r}: {entry['state']}")
        user, password = hass.credentials["username"], hass.credentials["password"]
        print(f"\n  {hass.base_url}/  user {user!r}, password {password!r}\n\n{TRY}", flush=True)
        await hass.wait_exit()
        print(f"develop: Home Assistant exited:\n{hass.log_tail()}", file=sys.stderr)
        return 1
    except asyncio.CancelledError:
        main.uncancel()
        print("develop: stopping Home Assistant", flush=True)
        return 0
    finally:
        await hass.stop()


def main() -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--config", default=str(ROOT / ".develop" / "config"))
    parser.add_argument("--port", type=int, default=8123)
    parser.add_argument("--host", default="127.0.0.1", help="the address hass listens on")
    parser.add_argument("--wyoming", action="append", default=[], metavar="HOST:PORT")
    parser.add_argument("--formant", metavar="HOST:PORT", help="the anima-formant server")
    parser.add_argument("--llm", metavar="HOST:PORT", help="the local LLM (scripts/local-llm)")
    return asyncio.run(develop(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
