"""Agent tools for every Home Assistant agent (and HA's MCP server): look and watch.

Tool names start with `anima__`, as the LLM platform requires. The asking device comes from
the LLM context, so "what do you see?" asked to a satellite looks through that satellite's
endpoint camera; other cameras are named by entity or area, within the permissions set on the
endpoints.
"""

from __future__ import annotations

from typing import Any, override

from homeassistant.components.llm import LLMTools
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import llm
import probatio as vol

from .const import DOMAIN
from .core.vision import PreparedFrame
from .runtime.frames import async_frame, async_frames
from .runtime.hub import hub_entry
from .runtime.looking import async_ask_about, can_look, find_camera, vision_links

QUESTION = "question"
CAMERA = "camera"
AREA = "area"
SECONDS = "seconds"
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

    async def _frames(
        self, hass: HomeAssistant, camera: str, model: str, args: dict[str, Any]
    ) -> list[PreparedFrame]:
        raise NotImplementedError

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


@callback
def async_get_tools(
    hass: HomeAssistant, llm_context: llm.LLMContext, api_id: str
) -> LLMTools | None:
    """Offer the tools a turn from the asking device can use now."""
    if hub_entry(hass) is None:
        return None
    tools: list[llm.Tool] = []
    if can_look(hass, llm_context.device_id):
        tools += [LookTool(), WatchTool()]
    return LLMTools(tools=tools) if tools else None
