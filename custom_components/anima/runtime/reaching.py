"""Reaching an endpoint on either family: speak on it, have it listen, play an earcon.

- Speaking goes through the endpoint's satellite (`assist_satellite.announce`: Wyoming and
  ESPHome satellites both announce) with the endpoint's Anima voice, so the message's class picks
  its tier there (the media is Anima's TTS with the `message_class` and `endpoint` options); else
  through its speaker (`tts.speak`).
- Listening without the wake word: a satellite that starts conversations (ESPHome) through
  `assist_satellite.start_conversation` and `ask_question`; Anima's Linux satellite through its
  endpoint service (`anima-listen`), since Home Assistant's Wyoming satellites cannot start a
  conversation (their entity offers announcements only).
- Earcons: the endpoint service, or the ESPHome board's `play_earcon` action.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

from homeassistant.components import tts
from homeassistant.components.assist_satellite import AssistSatelliteEntityFeature
from homeassistant.components.assist_satellite.const import PREANNOUNCE_URL
from homeassistant.const import ATTR_SUPPORTED_FEATURES
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.event import async_track_state_change_event

from ..const import DOMAIN, LOGGER, MESSAGE_CLASS, TTS_ENDPOINT
from ..core.endpoints import Endpoint
from ..core.speech.tiers import MessageClass
from ..protocol import EndpointError
from .hub import LISTENING, service_client

SATELLITE: Final = "assist_satellite"
ESPHOME: Final = "esphome"
IDLE: Final = "idle"
#: How long to wait for a satellite to finish what it is saying before it listens.
IDLE_TIMEOUT: Final = 60.0


class ReachError(HomeAssistantError):
    """An endpoint could not do what was asked; the message says why (an agent says it)."""

    def __init__(self, key: str, **placeholders: str) -> None:
        super().__init__(
            translation_domain=DOMAIN, translation_key=key, translation_placeholders=placeholders
        )


def _features(hass: HomeAssistant, endpoint: Endpoint) -> int:
    state = hass.states.get(endpoint.satellite) if endpoint.satellite else None
    return int(state.attributes.get(ATTR_SUPPORTED_FEATURES, 0)) if state else 0


@callback
def starts_conversations(hass: HomeAssistant, endpoint: Endpoint) -> bool:
    """Whether the endpoint's satellite starts conversations itself (ESPHome)."""
    return bool(_features(hass, endpoint) & AssistSatelliteEntityFeature.START_CONVERSATION)


@callback
def can_speak(hass: HomeAssistant, endpoint: Endpoint) -> bool:
    """Whether something can be said on the endpoint."""
    announces = bool(_features(hass, endpoint) & AssistSatelliteEntityFeature.ANNOUNCE)
    return announces or (endpoint.speaker is not None and voice_entity(hass, endpoint) is not None)


@callback
def can_listen(hass: HomeAssistant, endpoint: Endpoint) -> bool:
    """Whether the endpoint can listen without its wake word."""
    if starts_conversations(hass, endpoint):
        return True
    return endpoint.service is not None and endpoint.satellite is not None


@callback
def voice_entity(hass: HomeAssistant, endpoint: Endpoint) -> str | None:
    """Return the tts entity of the endpoint's voice profile."""
    if endpoint.voice is None:
        return None
    return next(
        (
            entry.entity_id
            for entry in er.async_get(hass).entities.values()
            if entry.domain == "tts" and entry.config_subentry_id == endpoint.voice
        ),
        None,
    )


async def async_say(
    hass: HomeAssistant,
    endpoint: Endpoint,
    message: str,
    message_class: MessageClass,
    *,
    earcon: str | None = None,
) -> None:
    """Say `message` on `endpoint`, in the tier its class gets there; an earcon first if asked."""
    if not can_speak(hass, endpoint):
        raise ReachError("cannot_speak", name=endpoint.name)
    if earcon:
        await async_play_earcon(hass, endpoint, earcon)
    if endpoint.satellite and _features(hass, endpoint) & AssistSatelliteEntityFeature.ANNOUNCE:
        data: dict[str, Any] = {"entity_id": endpoint.satellite, "message": message}
        if (media := _in_voice(hass, endpoint, message, message_class)) is not None:
            data["media_id"] = media
        if earcon:
            data["preannounce"] = False  # the earcon was the chime
        await _act(hass, endpoint, SATELLITE, "announce", data)
        return
    await _act(
        hass,
        endpoint,
        "tts",
        "speak",
        {
            "entity_id": voice_entity(hass, endpoint),
            "media_player_entity_id": endpoint.speaker,
            "message": message,
            "options": _voice_options(endpoint, message_class),
        },
    )


@callback
def _in_voice(
    hass: HomeAssistant, endpoint: Endpoint, text: str, message_class: MessageClass
) -> str | None:
    """Return the media of `text` in the endpoint's voice, in the tier of its class.

    None: the endpoint has no voice of Anima's; Home Assistant's satellite uses its pipeline's.
    """
    if (voice := voice_entity(hass, endpoint)) is None:
        return None
    options = _voice_options(endpoint, message_class)
    return tts.generate_media_source_id(hass, text, engine=voice, options=options)


def _voice_options(endpoint: Endpoint, message_class: MessageClass) -> dict[str, str]:
    """Return what Anima's voice needs to speak for the endpoint: the class, whom to bill."""
    return {MESSAGE_CLASS: str(message_class), TTS_ENDPOINT: endpoint.device_id}


async def async_listen(
    hass: HomeAssistant,
    endpoint: Endpoint,
    *,
    respond: bool,
    prompt: str | None = None,
    answers: list[dict[str, Any]] | None = None,
    timeout: float,
) -> dict[str, Any]:
    """Have the endpoint listen without its wake word, after saying `prompt` if given.

    `respond`: its pipeline answers what it hears as a turn (a follow-up, a handoff; returns
    at once); else what it heard is returned as `{"sentence", "id", "slots"}`.
    """
    if starts_conversations(hass, endpoint):
        return await _through_satellite(hass, endpoint, respond, prompt, answers, timeout)
    if not can_listen(hass, endpoint):
        raise ReachError("cannot_listen", name=endpoint.name)
    if prompt:
        await async_say(hass, endpoint, prompt, MessageClass.CONVERSATION)
    await async_wait_idle(hass, endpoint)
    client = service_client(endpoint)
    assert client is not None  # can_listen: it has a service
    try:
        heard = await client.listen(respond=respond, timeout=timeout)
    except EndpointError as err:
        raise ReachError("not_heard", name=endpoint.name) from err
    return {"sentence": heard, "id": None, "slots": {}}


async def _through_satellite(
    hass: HomeAssistant,
    endpoint: Endpoint,
    respond: bool,
    prompt: str | None,
    answers: list[dict[str, Any]] | None,
    timeout: float,
) -> dict[str, Any]:
    """Start a conversation, or ask a question, through Home Assistant's satellite actions."""
    data: dict[str, Any] = {"entity_id": endpoint.satellite, "preannounce": False}
    spoken = _in_voice(hass, endpoint, prompt, MessageClass.CONVERSATION) if prompt else None
    if respond:
        if prompt:
            data["start_message"] = prompt
            if spoken is not None:
                data["start_media_id"] = spoken
        else:  # Home Assistant would synthesize nothing (a broken file): the chime instead
            data["start_media_id"] = PREANNOUNCE_URL
        await _act(hass, endpoint, SATELLITE, "start_conversation", data)
        return {"sentence": "", "id": None, "slots": {}}
    data["question"] = prompt or ""
    if spoken is not None:
        data["question_media_id"] = spoken
    if answers:
        data["answers"] = answers
    listened = False

    @callback
    def changed(event: Event[EventStateChangedData]) -> None:
        nonlocal listened
        if (new := event.data["new_state"]) is not None and new.state == LISTENING:
            listened = True

    unsubscribe = async_track_state_change_event(hass, [data["entity_id"]], changed)
    try:
        async with asyncio.timeout(timeout):
            answer = await _act(hass, endpoint, SATELLITE, "ask_question", data, response=True)
    except TimeoutError as err:
        raise ReachError("not_heard", name=endpoint.name) from err
    except ReachError as err:
        # Home Assistant fails an ask that heard no words; the device was there: it listened.
        if listened:
            raise ReachError("not_heard", name=endpoint.name) from err
        raise
    finally:
        unsubscribe()
    return dict(answer or {})


async def _act(
    hass: HomeAssistant,
    endpoint: Endpoint,
    domain: str,
    action: str,
    data: dict[str, Any],
    *,
    response: bool = False,
) -> Any:
    """Call another integration's action for the endpoint; its failure becomes a ReachError.

    A satellite that went away raises ConnectionError from inside Home Assistant's action: the
    agent should say the endpoint did not answer, not end its turn with a traceback.
    """
    try:
        return await hass.services.async_call(
            domain, action, data, blocking=True, return_response=response
        )
    except (HomeAssistantError, OSError) as err:  # ConnectionError is an OSError
        LOGGER.info("%s: %s.%s failed: %s", endpoint.name, domain, action, err)
        raise ReachError("unreachable", name=endpoint.name) from err


async def async_wait_idle(hass: HomeAssistant, endpoint: Endpoint) -> None:
    """Wait (a while at most) until the endpoint's satellite says nothing and hears nothing."""
    entity_id = endpoint.satellite
    if entity_id is None or (state := hass.states.get(entity_id)) is None or state.state == IDLE:
        return
    idle = asyncio.Event()

    @callback
    def changed(event: Event[EventStateChangedData]) -> None:
        if (new := event.data["new_state"]) is not None and new.state == IDLE:
            idle.set()

    unsubscribe = async_track_state_change_event(hass, [entity_id], changed)
    try:
        async with asyncio.timeout(IDLE_TIMEOUT):
            await idle.wait()
    except TimeoutError:
        pass  # it never settled: listen anyway, better than never
    finally:
        unsubscribe()


@callback
def earcon_action(hass: HomeAssistant, endpoint: Endpoint) -> str | None:
    """Return the `play_earcon` action of an ESPHome board (firmware/esphome), if it has one."""
    device = dr.async_get(hass).async_get(endpoint.device_id)
    entry = hass.config_entries.async_get_entry(device.config_entry_id) if device else None
    if entry is None or entry.domain != ESPHOME or not entry.data.get("device_name"):
        return None
    # Home Assistant's esphome integration names a device's actions <node name>_<action>.
    action = f"{str(entry.data['device_name']).replace('-', '_')}_play_earcon"
    return action if hass.services.has_service(ESPHOME, action) else None


@callback
def can_play_earcon(hass: HomeAssistant, endpoint: Endpoint) -> bool:
    """Whether the endpoint plays stored earcons on request (endpoint service, ESPHome action)."""
    return endpoint.service is not None or earcon_action(hass, endpoint) is not None


async def async_play_earcon(hass: HomeAssistant, endpoint: Endpoint, earcon: str) -> None:
    """Have the endpoint play an earcon it stores (its endpoint service or ESPHome action)."""
    if (action := earcon_action(hass, endpoint)) is not None:
        await _act(hass, endpoint, ESPHOME, action, {"name": earcon})
        return
    if (client := service_client(endpoint)) is None:
        raise ReachError("no_earcon_player", name=endpoint.name)
    try:
        await client.play_earcon(earcon)
    except EndpointError as err:
        raise ReachError("earcon_not_played", name=endpoint.name, error=str(err)) from err
