"""Actions of the integration: `describe`, `ask`, `play_earcon` and `lift_budget`.

`describe` and `ask` return their text as response data for automations, and can speak it on
endpoints (through each endpoint's satellite, else its speaker with its voice profile).
`play_earcon` has endpoints play an earcon from their own store: no audio crosses the network.
"""

from __future__ import annotations

from pathlib import Path

from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse, SupportsResponse
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import (
    config_validation as cv,
    device_registry as dr,
    entity_registry as er,
)
from homeassistant.util import dt as dt_util
import probatio as vol

from .const import DOMAIN
from .core.endpoints import Endpoint, EndpointRegistry
from .core.profiles import PROFILE_AGENT, Link, chain_of
from .core.speech.earcons import Earcon
from .core.vision import PreparedFrame
from .protocol import EndpointError
from .runtime.data import AnimaData
from .runtime.errors import translated
from .runtime.frames import LookError, async_frame, async_prepare
from .runtime.hub import endpoint_registry, hub_entry, service_client
from .runtime.looking import async_ask_about, vision_links

SERVICE_LIFT_BUDGET = "lift_budget"
SERVICE_DESCRIBE = "describe"
SERVICE_ASK = "ask"
SERVICE_PLAY_EARCON = "play_earcon"
ATTR_DEVICE_ID = "device_id"
ATTR_CAMERA = "camera"
ATTR_CAMERAS = "cameras"
ATTR_IMAGE_FILE = "image_file"
ATTR_PROMPT = "prompt"
ATTR_SPEAK_ON = "speak_on"
ATTR_EARCON = "earcon"
ESPHOME = "esphome"
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
PLAY_EARCON_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_DEVICE_ID): vol.All(cv.ensure_list, [cv.string]),
        vol.Required(ATTR_EARCON): vol.In([earcon.value for earcon in Earcon]),
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
        registry = endpoint_registry(hub_entry(hass))
        endpoints = [_endpoint(registry, device_id) for device_id in call.data[ATTR_DEVICE_ID]]
        players = {endpoint.id: _earcon_action(hass, endpoint) for endpoint in endpoints}
        for endpoint in endpoints:
            if endpoint.service is None and players[endpoint.id] is None:
                raise translated(ServiceValidationError, "no_earcon_player", name=endpoint.name)
        earcon = call.data[ATTR_EARCON]
        for endpoint in endpoints:
            if (action := players[endpoint.id]) is not None:
                await hass.services.async_call(ESPHOME, action, {"name": earcon}, blocking=True)
                continue
            client = service_client(endpoint)
            assert client is not None  # an endpoint without a player was refused above
            try:
                await client.play_earcon(earcon)
            except EndpointError as err:
                raise translated(
                    HomeAssistantError, "earcon_not_played", name=endpoint.name, error=str(err)
                ) from err

    lift_schema = vol.Schema({vol.Optional(ATTR_DEVICE_ID): cv.string})
    for name, handler, schema in (
        (SERVICE_LIFT_BUDGET, lift_budget, lift_schema),
        (SERVICE_DESCRIBE, describe, DESCRIBE_SCHEMA),
        (SERVICE_ASK, ask, ASK_SCHEMA),
    ):
        hass.services.async_register(
            DOMAIN, name, handler, schema=schema, supports_response=SupportsResponse.OPTIONAL
        )
    hass.services.async_register(DOMAIN, SERVICE_PLAY_EARCON, play_earcon, PLAY_EARCON_SCHEMA)


def _earcon_action(hass: HomeAssistant, endpoint: Endpoint) -> str | None:
    """Return the `play_earcon` action of an ESPHome board (firmware/esphome), if it has one."""
    device = dr.async_get(hass).async_get(endpoint.device_id)
    entry = hass.config_entries.async_get_entry(device.config_entry_id) if device else None
    if entry is None or entry.domain != ESPHOME or not entry.data.get("device_name"):
        return None
    # Home Assistant's esphome integration names a device's actions <node name>_<action>.
    action = f"{str(entry.data['device_name']).replace('-', '_')}_play_earcon"
    return action if hass.services.has_service(ESPHOME, action) else None


def _endpoint(registry: EndpointRegistry, device_id: str) -> Endpoint:
    if (endpoint := registry.for_device(device_id)) is None:
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
        raise LookError("camera_not_found", name=image_file) from err
    return await async_prepare(hass, data, model, image_file)


async def _speak(hass: HomeAssistant, devices: list[str], text: str) -> None:
    """Say `text` on each endpoint: through its satellite, else its speaker and voice."""
    registry = endpoint_registry(hub_entry(hass))
    for device_id in devices:
        endpoint = _endpoint(registry, device_id)
        if endpoint.satellite:
            await hass.services.async_call(
                "assist_satellite",
                "announce",
                {"entity_id": endpoint.satellite, "message": text},
                blocking=True,
            )
        elif endpoint.speaker and endpoint.voice:
            await hass.services.async_call(
                "tts",
                "speak",
                {
                    "entity_id": _voice_entity(hass, endpoint.voice),
                    "media_player_entity_id": endpoint.speaker,
                    "message": text,
                },
                blocking=True,
            )


def _voice_entity(hass: HomeAssistant, voice_profile: str) -> str | None:
    """Return the tts entity of a voice profile."""
    return next(
        (
            entity.entity_id
            for entity in er.async_get(hass).entities.values()
            if entity.domain == "tts" and entity.config_subentry_id == voice_profile
        ),
        None,
    )
