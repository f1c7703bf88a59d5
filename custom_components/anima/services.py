"""Actions of the integration.

- `describe` and `ask` return their text as response data for automations, and can speak it
  on endpoints (through each endpoint's satellite, else its speaker with its voice profile);
- `play_earcon` has endpoints play an earcon from their own store: no audio crosses the network;
- `announce`, `ask_endpoint`, `ask_agent` and `handoff`: endpoints working together
  (runtime/coordination.py), on devices, areas or every endpoint;
- `lift_budget`.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse, SupportsResponse
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.util import dt as dt_util
from homeassistant.util.json import JsonValueType
import probatio as vol

from .const import DOMAIN
from .core.endpoints import Endpoint
from .core.profiles import PROFILE_AGENT, Link, chain_of
from .core.speech.earcons import Earcon
from .core.speech.tiers import MessageClass
from .core.vision import PreparedFrame
from .runtime.answers import sentence_template
from .runtime.coordination import ASK_TIMEOUT, MAX_ASK_TIMEOUT
from .runtime.data import AnimaData
from .runtime.devices import endpoint_of_device
from .runtime.errors import translated
from .runtime.frames import LookError, async_frame, async_prepare
from .runtime.hub import endpoint_registry, hub_entry
from .runtime.looking import async_ask_about, vision_links
from .runtime.reaching import async_play_earcon, can_play_earcon

SERVICE_LIFT_BUDGET = "lift_budget"
SERVICE_DESCRIBE = "describe"
SERVICE_ASK = "ask"
SERVICE_PLAY_EARCON = "play_earcon"
SERVICE_ANNOUNCE = "announce"
SERVICE_ASK_ENDPOINT = "ask_endpoint"
SERVICE_ASK_AGENT = "ask_agent"
SERVICE_HANDOFF = "handoff"
ATTR_DEVICE_ID = "device_id"
ATTR_CAMERA = "camera"
ATTR_CAMERAS = "cameras"
ATTR_IMAGE_FILE = "image_file"
ATTR_PROMPT = "prompt"
ATTR_SPEAK_ON = "speak_on"
ATTR_EARCON = "earcon"
ATTR_AREA_ID = "area_id"
ATTR_ALL = "all"
ATTR_MESSAGE = "message"
ATTR_MESSAGE_CLASS = "message_class"
ATTR_QUESTION = "question"
ATTR_ANSWERS = "answers"
ATTR_TIMEOUT = "timeout"
ATTR_CONVERSATION_ID = "conversation_id"
DEFAULT_DESCRIBE = "Describe what you see in one or two short sentences."
ASK_INSTRUCTIONS = "Answer for a smart home automation, briefly and in plain text."

DESCRIBE_SCHEMA = vol.Schema(
    {
        vol.Exclusive(ATTR_CAMERA, "source"): cv.entity_id,
        vol.Exclusive(ATTR_IMAGE_FILE, "source"): cv.string,
        vol.Optional(ATTR_PROMPT, default=DEFAULT_DESCRIBE): cv.string,
        vol.Optional(ATTR_SPEAK_ON, default=[]): vol.All(cv.ensure_list, [cv.string]),
    }
)
ASK_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_PROMPT): cv.string,
        vol.Optional(ATTR_CAMERAS, default=[]): vol.All(cv.ensure_list, [cv.entity_id]),
        vol.Optional(ATTR_SPEAK_ON, default=[]): vol.All(cv.ensure_list, [cv.string]),
    }
)
EARCONS = vol.In([earcon.value for earcon in Earcon])
PLAY_EARCON_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_DEVICE_ID): vol.All(cv.ensure_list, [cv.string]),
        vol.Required(ATTR_EARCON): EARCONS,
    }
)
TEXT = vol.All(cv.string, vol.Length(min=1, max=1000))
ANNOUNCE_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_MESSAGE): TEXT,
        vol.Optional(ATTR_DEVICE_ID, default=[]): vol.All(cv.ensure_list, [cv.string]),
        vol.Optional(ATTR_AREA_ID, default=[]): vol.All(cv.ensure_list, [cv.string]),
        vol.Optional(ATTR_ALL, default=False): cv.boolean,
        vol.Optional(ATTR_MESSAGE_CLASS, default=MessageClass.NOTIFICATION.value): vol.In(
            [message_class.value for message_class in MessageClass]
        ),
        vol.Optional(ATTR_EARCON): EARCONS,
    }
)
ANSWER = vol.Schema(
    {
        vol.Required("id"): vol.All(cv.string, vol.Length(max=100)),
        vol.Required("sentences"): vol.All(
            cv.ensure_list,
            [vol.All(cv.string, vol.Length(min=1, max=200), sentence_template)],
            vol.Length(1, 32),
        ),
    }
)
ASK_ENDPOINT_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_DEVICE_ID): cv.string,
        vol.Required(ATTR_QUESTION): TEXT,
        vol.Optional(ATTR_ANSWERS, default=[]): vol.All(
            cv.ensure_list, [ANSWER], vol.Length(0, 32)
        ),
        vol.Optional(ATTR_TIMEOUT, default=ASK_TIMEOUT): vol.All(
            vol.Coerce(float), vol.Range(1, MAX_ASK_TIMEOUT)
        ),
    }
)
ASK_AGENT_SCHEMA = vol.Schema(
    {vol.Required(ATTR_DEVICE_ID): cv.string, vol.Required(ATTR_QUESTION): TEXT}
)
HANDOFF_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_DEVICE_ID): cv.string,
        vol.Optional(ATTR_CONVERSATION_ID): cv.string,
        vol.Optional(ATTR_MESSAGE): TEXT,
    }
)


async def async_setup_services(hass: HomeAssistant) -> None:
    """Register the actions (once, with the integration)."""

    async def lift_budget(call: ServiceCall) -> ServiceResponse:
        """Suspend the house's budgets, or one endpoint's, for the rest of the day."""
        until = await AnimaData.of(hass).budgets.async_lift(call.data.get(ATTR_DEVICE_ID))
        return {"until": dt_util.as_local(dt_util.utc_from_timestamp(until)).isoformat()}

    async def describe(call: ServiceCall) -> ServiceResponse:
        """Describe a camera's frame or an image file."""
        links = vision_links(hass, None)
        model = links[0].model or ""
        if camera := call.data.get(ATTR_CAMERA):
            frames = [await async_frame(hass, camera, model)]
        elif image_file := call.data.get(ATTR_IMAGE_FILE):
            frames = [await _file_frame(hass, image_file, model)]
        else:
            raise translated(ServiceValidationError, "no_source")
        text = await async_ask_about(hass, links, call.data[ATTR_PROMPT], frames)
        await _speak(hass, call.data[ATTR_SPEAK_ON], text)
        return {"text": text}

    async def ask(call: ServiceCall) -> ServiceResponse:
        """Ask the first agent profile, with frames of the cameras if any."""
        cameras: list[str] = call.data[ATTR_CAMERAS]
        if cameras:
            links = vision_links(hass, None)
            model = links[0].model or ""
            frames = [await async_frame(hass, camera, model) for camera in cameras]
        else:
            links, frames = _first_agent_links(hass), []
        text = await async_ask_about(
            hass, links, call.data[ATTR_PROMPT], frames, instructions=ASK_INSTRUCTIONS
        )
        await _speak(hass, call.data[ATTR_SPEAK_ON], text)
        return {"response": text}

    async def play_earcon(call: ServiceCall) -> None:
        """Have endpoints play an earcon they store (endpoint service or ESPHome action)."""
        endpoints = [_endpoint(hass, device_id) for device_id in call.data[ATTR_DEVICE_ID]]
        for endpoint in endpoints:  # all can, or none plays
            if not can_play_earcon(hass, endpoint):
                raise translated(ServiceValidationError, "no_earcon_player", name=endpoint.name)
        for endpoint in endpoints:
            await async_play_earcon(hass, endpoint, call.data[ATTR_EARCON])

    lift_schema = vol.Schema({vol.Optional(ATTR_DEVICE_ID): cv.string})
    for name, handler, schema in (
        (SERVICE_LIFT_BUDGET, lift_budget, lift_schema),
        (SERVICE_DESCRIBE, describe, DESCRIBE_SCHEMA),
        (SERVICE_ASK, ask, ASK_SCHEMA),
        (SERVICE_ANNOUNCE, partial(_announce, hass), ANNOUNCE_SCHEMA),
        (SERVICE_ASK_ENDPOINT, partial(_ask_endpoint, hass), ASK_ENDPOINT_SCHEMA),
        (SERVICE_ASK_AGENT, partial(_ask_agent, hass), ASK_AGENT_SCHEMA),
        (SERVICE_HANDOFF, partial(_handoff, hass), HANDOFF_SCHEMA),
    ):
        hass.services.async_register(
            DOMAIN, name, handler, schema=schema, supports_response=SupportsResponse.OPTIONAL
        )
    hass.services.async_register(DOMAIN, SERVICE_PLAY_EARCON, play_earcon, PLAY_EARCON_SCHEMA)


async def _announce(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    """Say a message on endpoints, the endpoints of areas, or all of them."""
    registry = endpoint_registry(hub_entry(hass))
    targets = [_endpoint(hass, device_id) for device_id in call.data[ATTR_DEVICE_ID]]
    targets += [e for area in call.data[ATTR_AREA_ID] for e in registry.in_area(area)]
    targets += list(registry) if call.data[ATTR_ALL] else []
    if not targets:
        raise translated(ServiceValidationError, "no_target")
    spoken = await AnimaData.of(hass).coordination.async_announce(
        list({endpoint.id: endpoint for endpoint in targets}.values()),
        call.data[ATTR_MESSAGE],
        MessageClass(call.data[ATTR_MESSAGE_CLASS]),
        earcon=call.data.get(ATTR_EARCON),
    )
    return {"spoken_on": list[JsonValueType](spoken)}


async def _ask_endpoint(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    """Ask the person at an endpoint; their answer, matched to `answers` if given."""
    endpoint = _endpoint(hass, call.data[ATTR_DEVICE_ID])
    answer = await AnimaData.of(hass).coordination.async_ask_endpoint(
        endpoint,
        call.data[ATTR_QUESTION],
        answers=call.data[ATTR_ANSWERS] or None,
        timeout=call.data[ATTR_TIMEOUT],
    )
    return {"endpoint": endpoint.name, **answer}


async def _ask_agent(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    """Ask an endpoint's agent (its persona, tools and camera)."""
    endpoint = _endpoint(hass, call.data[ATTR_DEVICE_ID])
    answer = await AnimaData.of(hass).coordination.async_ask_agent(
        endpoint, call.data[ATTR_QUESTION]
    )
    return {"endpoint": endpoint.name, "response": answer}


async def _handoff(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    """Have an endpoint listen now; its next turn carries the named conversation."""
    endpoint = _endpoint(hass, call.data[ATTR_DEVICE_ID])
    await AnimaData.of(hass).coordination.async_handoff(
        endpoint,
        conversation_id=call.data.get(ATTR_CONVERSATION_ID),
        message=call.data.get(ATTR_MESSAGE),
    )
    return {"endpoint": endpoint.name}


def _endpoint(hass: HomeAssistant, device_id: str) -> Endpoint:
    """Return the endpoint a device names (its bound device, or its own Anima device)."""
    if (endpoint := endpoint_of_device(hass, device_id)) is None:
        raise translated(ServiceValidationError, "not_an_endpoint", device=device_id)
    return endpoint


def _first_agent_links(hass: HomeAssistant) -> tuple[Link, ...]:
    entry = hub_entry(hass)
    for sub in entry.subentries.values() if entry else ():
        if sub.subentry_type == PROFILE_AGENT:
            return chain_of(sub.data)
    raise LookError("no_agent")


async def _file_frame(hass: HomeAssistant, image_file: str, model: str) -> PreparedFrame:
    if not hass.config.is_allowed_path(image_file):
        raise translated(ServiceValidationError, "path_not_allowed", path=image_file)
    try:
        data = await hass.async_add_executor_job(Path(image_file).read_bytes)
    except OSError as err:
        raise LookError("image_not_read", path=image_file, error=err.strerror or "") from err
    return await async_prepare(hass, data, model, image_file)


async def _speak(hass: HomeAssistant, devices: list[str], text: str) -> None:
    """Say `text` on each endpoint, as an answer (runtime/reaching.py)."""
    if devices:
        endpoints = [_endpoint(hass, device_id) for device_id in devices]
        await AnimaData.of(hass).coordination.async_announce(endpoints, text, MessageClass.ANSWER)
