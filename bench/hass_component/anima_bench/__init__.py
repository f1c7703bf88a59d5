"""The latency benchmark's hands inside a real Home Assistant (never installed by users).

bench/latency.py starts `hass` with this folder linked into its custom_components, then drives
it over the websocket API: set up the stacks
(bench/scenarios/stacks.py), run timed turns through the assist pipeline
(bench/scenarios/turns.py: the clock runs inside Home Assistant, from the end of the audio to
the first byte of reply audio), adopt Anima's satellites, read Anima's stage timings.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
import sys
import time
from typing import Any

from homeassistant.components import tts, websocket_api
from homeassistant.const import __version__ as ha_version
from homeassistant.core import HomeAssistant
from homeassistant.helpers.typing import ConfigType
import voluptuous as vol

# The repository this folder is linked from, for the benchmark's own modules (appended: Home
# Assistant's custom_components must stay the config dir's).
sys.path.append(str(Path(__file__).resolve().parents[3]))

from bench.scenarios import stacks
from bench.scenarios.turns import timed_turn
from custom_components.anima.runtime.data import AnimaData
from custom_components.anima.tts import AnimaTextToSpeechEntity

DOMAIN = "anima_bench"
_STREAMING = AnimaTextToSpeechEntity.async_supports_streaming_input


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the benchmark's websocket commands."""
    for command in (
        _stacks,
        _local,
        _turn,
        _turns,
        _speak,
        _adopt,
        _release,
        _prefer,
        _timings,
        _streaming,
    ):
        websocket_api.async_register_command(hass, command)
    return True


@websocket_api.websocket_command(
    {vol.Required("type"): "anima_bench/stacks", vol.Required("base_url"): str}
)
@websocket_api.async_response
async def _stacks(hass: HomeAssistant, connection: Any, msg: dict[str, Any]) -> None:
    anima = await stacks.anima_stack(hass, msg["base_url"])
    core = await stacks.core_stack(hass)
    stacks.prefer(hass, anima)
    loop = asyncio.get_running_loop()
    connection.send_result(
        msg["id"],
        {"anima": anima, "core": core, "asyncio_debug": loop.get_debug(), "version": ha_version},
    )


@websocket_api.websocket_command(
    {
        vol.Required("type"): "anima_bench/local",
        vol.Required("whisper"): [vol.Any(str, int)],
        vol.Required("piper"): [vol.Any(str, int)],
        vol.Required("model"): [str],
    }
)
@websocket_api.async_response
async def _local(hass: HomeAssistant, connection: Any, msg: dict[str, Any]) -> None:
    whisper, piper = ((str(msg[k][0]), int(msg[k][1])) for k in ("whisper", "piper"))
    model = (msg["model"][0], msg["model"][1])
    pipeline, voice = await stacks.local_stack(hass, whisper, piper, model)
    connection.send_result(msg["id"], {"local": pipeline, "voice": voice})


@websocket_api.websocket_command(
    {
        vol.Required("type"): "anima_bench/turn",
        vol.Required("pipeline"): str,
        vol.Optional("output"): vol.Any(str, dict, None),
    }
)
@websocket_api.async_response
async def _turn(hass: HomeAssistant, connection: Any, msg: dict[str, Any]) -> None:
    ms = await timed_turn(hass, msg["pipeline"], output=msg.get("output"))
    connection.send_result(msg["id"], {"ms": ms})


@websocket_api.websocket_command(
    {
        vol.Required("type"): "anima_bench/turns",
        vol.Required("pipeline"): str,
        vol.Required("count"): int,
    }
)
@websocket_api.async_response
async def _turns(hass: HomeAssistant, connection: Any, msg: dict[str, Any]) -> None:
    """`count` turns started at the same moment."""
    turns = [timed_turn(hass, msg["pipeline"]) for _ in range(msg["count"])]
    connection.send_result(msg["id"], {"ms": list(await asyncio.gather(*turns))})


@websocket_api.websocket_command(
    {
        vol.Required("type"): "anima_bench/speak",
        vol.Required("engine"): str,
        vol.Required("message"): str,
        vol.Required("options"): dict,
    }
)
@websocket_api.async_response
async def _speak(hass: HomeAssistant, connection: Any, msg: dict[str, Any]) -> None:
    """A message spoken as tts.speak would: ms to its first byte, its format, its bytes.

    Home Assistant's memory cache keeps a message it has spoken: give a new one each time.
    """
    stream = tts.async_create_stream(hass, msg["engine"], "en", msg["options"])
    started, first, size = time.perf_counter(), None, 0
    stream.async_set_message(msg["message"])
    async for data in stream.async_stream_result():
        first = first or time.perf_counter()
        size += len(data)
    ms = None if first is None else (first - started) * 1000
    connection.send_result(msg["id"], {"ms": ms, "extension": stream.extension, "bytes": size})


@websocket_api.websocket_command(
    {
        vol.Required("type"): "anima_bench/adopt",
        vol.Required("ports"): [int],
        vol.Required("pipelines"): [str],
    }
)
@websocket_api.async_response
async def _adopt(hass: HomeAssistant, connection: Any, msg: dict[str, Any]) -> None:
    entries = await stacks.adopt(hass, msg["ports"], msg["pipelines"])
    connection.send_result(msg["id"], {"entries": [entry.entry_id for entry in entries]})


@websocket_api.websocket_command(
    {vol.Required("type"): "anima_bench/release", vol.Required("entries"): [str]}
)
@websocket_api.async_response
async def _release(hass: HomeAssistant, connection: Any, msg: dict[str, Any]) -> None:
    for entry_id in msg["entries"]:
        await hass.config_entries.async_remove(entry_id)
    connection.send_result(msg["id"], {})


@websocket_api.websocket_command(
    {vol.Required("type"): "anima_bench/prefer", vol.Required("pipeline"): str}
)
@websocket_api.callback
def _prefer(hass: HomeAssistant, connection: Any, msg: dict[str, Any]) -> None:
    stacks.prefer(hass, msg["pipeline"])
    connection.send_result(msg["id"], {})


@websocket_api.websocket_command({vol.Required("type"): "anima_bench/timings"})
@websocket_api.callback
def _timings(hass: HomeAssistant, connection: Any, msg: dict[str, Any]) -> None:
    connection.send_result(msg["id"], AnimaData.of(hass).timings.as_dict())


@websocket_api.websocket_command(
    {vol.Required("type"): "anima_bench/streaming", vol.Required("on"): bool}
)
@websocket_api.callback
def _streaming(hass: HomeAssistant, connection: Any, msg: dict[str, Any]) -> None:
    """Let Anima's voice take streamed text (its normal self) or not (the voice waits)."""
    AnimaTextToSpeechEntity.async_supports_streaming_input = (  # type: ignore[method-assign]
        _STREAMING if msg["on"] else lambda self: False
    )
    connection.send_result(msg["id"], {})
