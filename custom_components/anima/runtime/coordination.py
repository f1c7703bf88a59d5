"""Endpoints working together: announce, ask, ask an agent, hand over, one answer, follow-ups.

Announce on endpoints, ask the person at one, ask its agent, hand a conversation over; one
answer per room; follow-up questions heard without the wake word.

Shared by the agent tools (llm.py), the actions (services.py) and the device actions. The
tools name endpoints by name, area or alias (`find`) and are held to the targets' permissions
(core/endpoints.py `Permission`); actions name devices and are the household's own. What cannot
be done raises `ReachError`, whose message is a sentence an agent can say.

Wyoming satellites cannot be asked by Home Assistant to listen; Anima's satellite listens on
the hub's request through its endpoint service (runtime/reaching.py). So after a turn whose
answer is a question (`continue_conversation`), the hub has it listen again once the reply has
played; ESPHome devices do that themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
import time
from typing import Any, Final

from homeassistant.components import conversation
from homeassistant.components.conversation.chat_log import DATA_CHAT_LOGS, current_chat_log
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import Context, Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers import area_registry as ar, device_registry as dr, entity_registry as er
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.event import async_track_state_change_event

from ..const import LOGGER, SIGNAL_TURN
from ..core.endpoints import Endpoint, EndpointRegistry, Permission
from ..core.profiles import PROFILE_AGENT
from ..core.rooms import WakeLog
from ..core.speech.tiers import MessageClass
from ..core.turns import TurnRecord
from .answers import match_answer
from .hub import LISTENING, endpoint_registry, hub_entry
from .reaching import (
    ReachError,
    async_listen,
    async_say,
    can_listen,
    can_play_earcon,
    can_speak,
    starts_conversations,
)

#: How long `ask_endpoint` waits for a spoken answer by default, and at most.
ASK_TIMEOUT: Final = 30.0
MAX_ASK_TIMEOUT: Final = 120.0
#: How long a handed-over conversation waits for its next turn on the new endpoint.
HANDOFF_TTL: Final = 300.0
#: The most messages of history a handoff carries.
MAX_HISTORY: Final = 40

type History = tuple[tuple[str, str], ...]  # (role, text), oldest first


@dataclass(frozen=True, slots=True)
class Handoff:
    """A conversation handed over to an endpoint: its history, and when."""

    history: History
    at: float


class Coordinator:
    """Wake-ups, handed-over conversations and follow-ups; one per integration (AnimaData)."""

    def __init__(self, hass: HomeAssistant) -> None:
        """Start with nothing heard and nothing handed over."""
        self.hass = hass
        self.wakes = WakeLog()
        self._handoffs: dict[str, Handoff] = {}
        #: Endpoints to listen once the turn of a device (the key) has been spoken.
        self._after_turn: dict[str | None, Endpoint] = {}
        self._hub: ConfigEntry | None = None

    @callback
    def watch(self, hub: ConfigEntry) -> None:
        """While the hub is loaded: note wake-ups, and listen again after questions."""
        self._hub = hub
        satellites = {e.satellite: e.device_id for e in endpoint_registry(hub) if e.satellite}

        @callback
        def changed(event: Event[EventStateChangedData]) -> None:
            if (new := event.data["new_state"]) is not None and new.state == LISTENING:
                self.wakes.heard(satellites[event.data["entity_id"]], time.monotonic())

        if satellites:
            hub.async_on_unload(async_track_state_change_event(self.hass, satellites, changed))
        hub.async_on_unload(async_dispatcher_connect(self.hass, SIGNAL_TURN, self._turn_ended))

    # --- the agent's turn -------------------------------------------------------------------

    @callback
    def prepare_turn(
        self, user_input: conversation.ConversationInput, chat_log: conversation.ChatLog
    ) -> bool:
        """Whether this endpoint answers the turn; a handed-over conversation joins it.

        False: another endpoint of the room heard the same wake word first (core/rooms.py).
        """
        device = user_input.device_id
        registry = endpoint_registry(hub_entry(self.hass))
        areas = {endpoint.device_id: endpoint.area for endpoint in registry}
        if not self.wakes.answers(device, areas):
            LOGGER.info("%s heard a wake word another endpoint heard first; it stays quiet", device)
            return False
        handoff = self._handoffs.pop(device, None) if device else None
        if handoff is not None and time.monotonic() - handoff.at <= HANDOFF_TTL:
            _carry_over(chat_log, handoff.history)
        return True

    @callback
    def _turn_ended(self, record: TurnRecord) -> None:
        hub = self._hub
        endpoint = endpoint_registry(hub).for_device(record.device_id)
        target = self._after_turn.pop(record.device_id, None)
        if (
            target is None
            and record.continue_conversation
            and endpoint is not None
            and not starts_conversations(self.hass, endpoint)  # ESPHome boards listen again
            and can_listen(self.hass, endpoint)
        ):
            target = endpoint
        handoff = self._handoffs.get(target.device_id) if target is not None else None
        if target is not None and handoff is not None and record.answer:  # said after the tool
            history = (*handoff.history, ("assistant", record.answer))[-MAX_HISTORY:]
            self._handoffs[target.device_id] = Handoff(history, handoff.at)
        if target is not None and hub is not None:
            hub.async_create_background_task(
                self.hass, self._listen_quietly(target), f"anima listen on {target.name}"
            )

    async def _listen_quietly(self, endpoint: Endpoint) -> None:
        try:
            await async_listen(self.hass, endpoint, respond=True, timeout=ASK_TIMEOUT)
        except ReachError as err:
            LOGGER.info("%s did not hear a reply: %s", endpoint.name, err)

    # --- what tools and actions do ----------------------------------------------------------

    @callback
    def find(
        self,
        wanted: str,
        asking_device: str | None,
        permission: Permission,
        *,
        itself: bool = True,
    ) -> list[Endpoint]:
        """Return the endpoints an agent's `wanted` names, if the asker may do `permission`.

        `itself`: the asking endpoint may be among them (not when asking or handing over).
        """
        registry = endpoint_registry(hub_entry(self.hass))
        found = registry.find(wanted, _endpoint_names(self.hass, registry), _area_names(self.hass))
        found = [e for e in found if itself or e.device_id != asking_device]
        if not found:
            raise ReachError("unknown_endpoint", name=wanted)
        asking = registry.for_device(asking_device)
        allowed = [e for e in found if registry.allows(asking, e, permission)]
        if not allowed:
            raise ReachError(f"refused_{permission.name.lower()}", name=found[0].name)
        return allowed

    async def async_announce(
        self,
        endpoints: Sequence[Endpoint],
        message: str,
        message_class: MessageClass = MessageClass.NOTIFICATION,
        *,
        earcon: str | None = None,
    ) -> list[str]:
        """Say `message` on each endpoint that can speak; return their names."""
        speaking = [endpoint for endpoint in endpoints if can_speak(self.hass, endpoint)]
        if not speaking:
            raise ReachError("cannot_speak", name=", ".join(e.name for e in endpoints))
        if earcon and (mute := [e.name for e in speaking if not can_play_earcon(self.hass, e)]):
            raise ReachError("no_earcon_player", name=", ".join(mute))  # all or none hear it
        for endpoint in speaking:
            await async_say(self.hass, endpoint, message, message_class, earcon=earcon)
        return [endpoint.name for endpoint in speaking]

    async def async_ask_endpoint(
        self,
        endpoint: Endpoint,
        question: str,
        *,
        answers: list[dict[str, Any]] | None = None,
        timeout: float = ASK_TIMEOUT,
    ) -> dict[str, Any]:
        """Ask the person at `endpoint`; return their answer `{"sentence", "id", "slots"}`."""
        timeout = min(max(timeout, 1.0), MAX_ASK_TIMEOUT)
        heard = await async_listen(
            self.hass, endpoint, respond=False, prompt=question, answers=answers, timeout=timeout
        )
        if not heard.get("sentence"):
            raise ReachError("not_heard", name=endpoint.name)
        if answers and heard.get("id") is None and not starts_conversations(self.hass, endpoint):
            heard = match_answer(self.hass, str(heard["sentence"]), answers)
        return heard

    async def async_ask_agent(
        self, endpoint: Endpoint, question: str, *, language: str | None = None
    ) -> str:
        """Ask the agent of `endpoint` (its persona, tools, camera); return its answer."""
        result = await conversation.async_converse(
            self.hass,
            question,
            None,
            Context(),
            language=language,
            agent_id=_agent_entity(self.hass, endpoint),
            device_id=endpoint.device_id,
        )
        return str(result.response.speech.get("plain", {}).get("speech", ""))

    async def async_handoff(
        self,
        endpoint: Endpoint,
        *,
        asking_device: str | None = None,
        conversation_id: str | None = None,
        message: str | None = None,
    ) -> None:
        """Continue a conversation on `endpoint`: its next turn there has the history.

        From an agent's turn (`asking_device`), the endpoint listens once that turn's reply
        has been spoken; otherwise (an action) now, after saying `message` if given, which
        then joins the history as the assistant's (a question the agent hears answered).
        """
        if not can_listen(self.hass, endpoint):
            raise ReachError("cannot_listen", name=endpoint.name)
        chat_log = current_chat_log.get()  # set while an agent's tool runs
        in_turn = chat_log is not None and conversation_id is None
        if conversation_id is not None:
            history = _texts(_chat_log_content(self.hass, conversation_id))
        else:
            history = _texts(chat_log.content if chat_log is not None else [])
        if message and not starts_conversations(self.hass, endpoint):  # ESPHome's HA notes it
            history = (*history, ("assistant", message))
        self._handoffs[endpoint.device_id] = Handoff(history, time.monotonic())
        if in_turn:  # the agent's reply is still to be spoken where the user is now
            self._after_turn[asking_device] = endpoint
            return
        await async_listen(self.hass, endpoint, respond=True, prompt=message, timeout=ASK_TIMEOUT)


def _texts(content: Sequence[conversation.Content]) -> History:
    """Return the user's and the agents' words of a conversation (no tool calls), the last."""
    texts: list[tuple[str, str]] = []
    for item in content:
        if (
            isinstance(item, conversation.UserContent | conversation.AssistantContent)
            and item.content
        ):
            texts.append((item.role, item.content))
    return tuple(texts[-MAX_HISTORY:])


def _carry_over(chat_log: conversation.ChatLog, history: History) -> None:
    """Put a handed-over conversation's history before this turn's question."""
    items: list[conversation.Content] = [
        conversation.UserContent(content=text)
        if role == "user"
        else conversation.AssistantContent(agent_id="anima", content=text)
        for role, text in history
    ]
    last_user = max(
        (i for i, c in enumerate(chat_log.content) if isinstance(c, conversation.UserContent)),
        default=len(chat_log.content),
    )
    chat_log.content[last_user:last_user] = items


def _endpoint_names(hass: HomeAssistant, registry: EndpointRegistry) -> dict[str, set[str]]:
    """Other names of each endpoint: its device's name and the name the user gave it."""
    devices = dr.async_get(hass)
    names: dict[str, set[str]] = {}
    for endpoint in registry:
        device = devices.async_get(endpoint.device_id)
        names[endpoint.id] = (
            {n for n in (device.name, device.name_by_user) if n} if device else set()
        )
    return names


def _area_names(hass: HomeAssistant) -> dict[str, set[str]]:
    """Each area's name and aliases, by area id."""
    return {area.id: {area.name, *area.aliases} for area in ar.async_get(hass).async_list_areas()}


def _agent_entity(hass: HomeAssistant, endpoint: Endpoint) -> str:
    """Return the conversation entity of the endpoint's agent profile, else the first agent's."""
    hub = hub_entry(hass)
    agents = (
        [s.subentry_id for s in hub.subentries.values() if s.subentry_type == PROFILE_AGENT]
        if hub
        else []
    )
    agents.sort(key=lambda subentry_id: subentry_id != endpoint.agent)
    entities = er.async_get(hass).entities.values()
    for subentry_id in agents:
        for entry in entities:
            if entry.domain == "conversation" and entry.config_subentry_id == subentry_id:
                return entry.entity_id
    raise ReachError("no_agent_there", name=endpoint.name)


def _chat_log_content(hass: HomeAssistant, conversation_id: str) -> Sequence[conversation.Content]:
    """Return the content of a conversation Home Assistant still keeps (empty: forgotten)."""
    chat_log = hass.data.get(DATA_CHAT_LOGS, {}).get(conversation_id)
    return chat_log.content if chat_log is not None else []
