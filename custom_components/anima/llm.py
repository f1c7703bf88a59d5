"""Agent tools for every Home Assistant agent (and HA's MCP server).

- look and watch: "what do you see?" asked to a satellite looks through that satellite's
  endpoint camera; other cameras are named by entity or area, within the endpoints' permissions;
- announce, ask an endpoint, ask its agent, hand the conversation over (runtime/coordination.py):
  endpoints are named by name, area or alias, within the permissions each endpoint sets.

Tool names start with `anima__`, as the LLM platform requires; the asking device comes from the
LLM context. A tool is offered only where it can work; what it cannot do (an unknown endpoint,
a refusal) comes back as a sentence the model can say.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import Any, override

from homeassistant.components.llm import LLMTools
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import llm
import probatio as vol

from .const import DOMAIN
from .core.endpoints import Endpoint, Permission
from .core.speech.tiers import MessageClass
from .core.vision import PreparedFrame
from .runtime.coordination import ASK_TIMEOUT, MAX_ASK_TIMEOUT, Coordinator
from .runtime.data import AnimaData
from .runtime.frames import async_frame, async_frames
from .runtime.hub import endpoint_registry, hub_entry
from .runtime.looking import async_ask_about, can_look, find_camera, vision_links
from .runtime.reaching import ReachError, can_listen, can_speak

QUESTION = "question"
CAMERA = "camera"
AREA = "area"
SECONDS = "seconds"
ENDPOINT = "endpoint"
MESSAGE = "message"
MESSAGE_CLASS = "message_class"
#: Where to speak, ask or hand over: an endpoint, an area, or every endpoint.
TARGET = {
    vol.Required(
        ENDPOINT, description="An endpoint or area name or alias, e.g. living room"
    ): vol.All(str, vol.Length(max=100)),
}
#: What a tool says or asks: bounded (a model can loop, or be told to flood a room).
SPOKEN = vol.All(str, vol.Length(min=1, max=1000))
#: Where to look, for both tools: no camera and no area means the asking device's own.
WHERE = {
    vol.Optional(CAMERA, description="A camera entity id, e.g. camera.porch"): str,
    vol.Optional(AREA, description="An area or endpoint name, e.g. kitchen"): str,
}


class _CameraTool(llm.Tool):
    """Frames from the camera a turn may use, and the answer of a vision model about them."""

    integration = DOMAIN

    @override
    async def async_call(
        self, hass: HomeAssistant, tool_input: llm.ToolInput, llm_context: llm.LLMContext
    ) -> llm.ToolResult:
        """Choose the camera, take the frames and ask the agent's vision model about them."""
        args: dict[str, Any] = self.parameters(tool_input.tool_args)
        target = find_camera(
            hass, llm_context.device_id, camera_entity=args.get(CAMERA), area=args.get(AREA)
        )
        links = vision_links(hass, llm_context.device_id)
        frames = await self._frames(hass, target.camera, links[0].model or "", args)
        answer = await async_ask_about(
            hass, links, self._question(args, frames), frames, endpoint=llm_context.device_id
        )
        return llm.ToolResult({"camera": target.camera, **self._about(frames), "answer": answer})

    @abstractmethod
    async def _frames(
        self, hass: HomeAssistant, camera: str, model: str, args: dict[str, Any]
    ) -> list[PreparedFrame]:
        """Take the frames to ask about from `camera`, prepared for `model`."""

    def _question(self, args: dict[str, Any], frames: list[PreparedFrame]) -> str:
        return str(args[QUESTION])

    def _about(self, frames: list[PreparedFrame]) -> dict[str, Any]:
        return {}


class LookTool(_CameraTool):
    """Look through a camera and answer a question about what it shows."""

    name = f"{DOMAIN}__look"
    description = (
        "Look through a camera and answer a question about what it sees. Without camera or "
        "area, uses the camera of the device the user is talking to."
    )
    parameters = vol.Schema(
        {vol.Required(QUESTION, description="What to find out from the image"): str, **WHERE}
    )

    @override
    async def _frames(
        self, hass: HomeAssistant, camera: str, model: str, args: dict[str, Any]
    ) -> list[PreparedFrame]:
        return [await async_frame(hass, camera, model)]


class WatchTool(_CameraTool):
    """Watch a camera for a few seconds and answer about what happened."""

    name = f"{DOMAIN}__watch"
    description = (
        "Watch a camera for a few seconds (1-10) and answer a question about what happens, "
        "e.g. whether someone came in or a pot is boiling over. Only changed frames are sent."
    )
    parameters = vol.Schema(
        {
            vol.Required(QUESTION, description="What to find out"): str,
            vol.Optional(SECONDS, default=3): vol.All(vol.Coerce(float), vol.Range(1, 10)),
            **WHERE,
        }
    )

    @override
    async def _frames(
        self, hass: HomeAssistant, camera: str, model: str, args: dict[str, Any]
    ) -> list[PreparedFrame]:
        """Frames at two per second; only the changed ones are kept."""
        return await async_frames(hass, camera, model, args[SECONDS], 2.0)

    @override
    def _question(self, args: dict[str, Any], frames: list[PreparedFrame]) -> str:
        return f"These are {len(frames)} frames in time order. {args[QUESTION]}"

    @override
    def _about(self, frames: list[PreparedFrame]) -> dict[str, Any]:
        return {"frames": len(frames)}


@dataclass(frozen=True, slots=True)
class _Act:
    """What an endpoint tool acts on: the endpoints found, the arguments, the asking turn."""

    coordination: Coordinator
    targets: list[Endpoint]
    args: dict[str, Any]
    context: llm.LLMContext

    @property
    def listener(self) -> Endpoint:
        """The first target that can listen without its wake word (else the first)."""
        hass = self.coordination.hass
        return next((e for e in self.targets if can_listen(hass, e)), self.targets[0])


class _EndpointTool(llm.Tool):
    """A tool that acts on other endpoints, named by name, area or alias."""

    integration = DOMAIN
    permission: Permission
    #: Whether the asking endpoint itself can be the target (asking yourself makes no sense).
    reaches_itself = False

    @override
    async def async_call(
        self, hass: HomeAssistant, tool_input: llm.ToolInput, llm_context: llm.LLMContext
    ) -> llm.ToolResult:
        """Find the endpoints, check the permission, do it; say why not if it cannot."""
        args: dict[str, Any] = self.parameters(tool_input.tool_args)
        coordination = AnimaData.of(hass).coordination
        try:
            targets = coordination.find(
                args[ENDPOINT], llm_context.device_id, self.permission, itself=self.reaches_itself
            )
            data = await self._act(_Act(coordination, targets, args, llm_context))
        except ReachError as err:
            return llm.ToolResult({"error": err.translation_key, "error_text": str(err)}, True)
        return llm.ToolResult(data)

    @abstractmethod
    async def _act(self, act: _Act) -> dict[str, Any]:
        """Do it on `act.targets`; return what the model hears, or raise `ReachError`."""


class AnnounceTool(_EndpointTool):
    """Say something out loud on other endpoints."""

    name = f"{DOMAIN}__announce"
    description = (
        "Say a message out loud on another device, on the devices of an area, or everywhere "
        "(intercom, announcements): e.g. tell the living room that dinner is ready."
    )
    parameters = vol.Schema(
        {
            **TARGET,
            vol.Required(MESSAGE, description="What to say, as it should be spoken"): SPOKEN,
            vol.Optional(
                MESSAGE_CLASS,
                default=MessageClass.NOTIFICATION.value,
                description="notification, alert (urgent: always spoken) or conversation",
            ): vol.In([c.value for c in MessageClass]),
        }
    )
    permission = Permission.ANNOUNCE
    reaches_itself = True

    @override
    async def _act(self, act: _Act) -> dict[str, Any]:
        message_class = MessageClass(act.args[MESSAGE_CLASS])
        spoken = await act.coordination.async_announce(
            act.targets, act.args[MESSAGE], message_class
        )
        return {"spoken_on": spoken}


class AskEndpointTool(_EndpointTool):
    """Ask the person at another endpoint, out loud, and return their spoken answer."""

    name = f"{DOMAIN}__ask_endpoint"
    description = (
        "Ask the person at another device a question out loud and wait for their spoken "
        "answer, e.g. ask the office if Sam wants tea. Returns what they said."
    )
    parameters = vol.Schema(
        {
            **TARGET,
            vol.Required(QUESTION, description="The question, as it should be spoken"): SPOKEN,
            vol.Optional(SECONDS, default=ASK_TIMEOUT): vol.All(
                vol.Coerce(float), vol.Range(5, MAX_ASK_TIMEOUT)
            ),
        }
    )
    permission = Permission.ASK

    @override
    async def _act(self, act: _Act) -> dict[str, Any]:
        target = act.listener
        heard = await act.coordination.async_ask_endpoint(
            target, act.args[QUESTION], timeout=act.args[SECONDS]
        )
        return {"endpoint": target.name, "answer": heard["sentence"]}


class AskAgentTool(_EndpointTool):
    """Ask another endpoint's agent (its persona, tools and camera) and return its answer."""

    name = f"{DOMAIN}__ask_agent"
    description = (
        "Hand a question to the assistant of another device, which answers with its own "
        "persona, tools and camera, e.g. ask the garage assistant whether the car is there."
    )
    parameters = vol.Schema({**TARGET, vol.Required(QUESTION, description="The question"): SPOKEN})
    permission = Permission.ASK

    @override
    async def _act(self, act: _Act) -> dict[str, Any]:
        target = act.targets[0]
        answer = await act.coordination.async_ask_agent(
            target, act.args[QUESTION], language=act.context.language
        )
        return {"endpoint": target.name, "answer": answer}


class HandoffTool(_EndpointTool):
    """Continue this conversation on another endpoint."""

    name = f"{DOMAIN}__handoff"
    description = (
        "Continue this conversation on another device: the user's next words are heard there "
        "without the wake word and answered with this conversation's history. Then tell the "
        "user briefly where it continues."
    )
    parameters = vol.Schema(TARGET)
    permission = Permission.HANDOFF

    @override
    async def _act(self, act: _Act) -> dict[str, Any]:
        target = act.listener
        await act.coordination.async_handoff(target, asking_device=act.context.device_id)
        return {"endpoint": target.name, "continues_there": True}


def _endpoint_tools(hass: HomeAssistant, asking_device: str | None) -> list[llm.Tool]:
    """Return the coordination tools that can work from the asking device."""
    others = [e for e in endpoint_registry(hub_entry(hass)) if e.device_id != asking_device]
    tools: list[llm.Tool] = []
    if any(can_speak(hass, e) for e in others):
        tools.append(AnnounceTool())
    if any(can_listen(hass, e) for e in others):
        tools += [AskEndpointTool(), HandoffTool()]
    if others:
        tools.append(AskAgentTool())
    return tools


@callback
def async_get_tools(
    hass: HomeAssistant, llm_context: llm.LLMContext, api_id: str
) -> LLMTools | None:
    """Offer the tools a turn from the asking device can use now."""
    tools: list[llm.Tool] = []
    if can_look(hass, llm_context.device_id):
        tools += [LookTool(), WatchTool()]
    tools += _endpoint_tools(hass, llm_context.device_id)
    return LLMTools(tools=tools) if tools else None
