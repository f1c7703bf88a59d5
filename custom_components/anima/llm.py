"""Agent tools for every Home Assistant agent (and HA's MCP server): look and watch.

Tool names start with `anima__`, as the LLM platform requires. The asking device comes from
the LLM context, so "what do you see?" asked to a satellite looks through that satellite's
endpoint camera; other cameras are named by entity or area, within the permissions set on the
endpoints.
"""

from __future__ import annotations

from typing import Any

from homeassistant.components.llm import LLMTools
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import llm
from homeassistant.util.json import JsonObjectType
import probatio as vol

from .const import DOMAIN
from .hub import hub_entry
from .looking import (
    async_ask_about,
    async_frame,
    async_frames,
    find_camera,
    vision_links,
)

QUESTION = "question"
CAMERA = "camera"
AREA = "area"
SECONDS = "seconds"


class LookTool(llm.Tool):
    """Look through a camera and answer a question about what it shows."""

    name = f"{DOMAIN}__look"
    description = (
        "Look through a camera and answer a question about what it sees. Without camera or "
        "area, uses the camera of the device the user is talking to."
    )
    parameters = vol.Schema(
        {
            vol.Required(QUESTION, description="What to find out from the image"): str,
            vol.Optional(CAMERA, description="A camera entity id, e.g. camera.porch"): str,
            vol.Optional(AREA, description="An area or endpoint name, e.g. kitchen"): str,
        }
    )

    async def async_call(
        self, hass: HomeAssistant, tool_input: llm.ToolInput, llm_context: llm.LLMContext
    ) -> JsonObjectType:
        """Take a frame and ask the agent's vision model about it."""
        args = tool_input.tool_args
        target = find_camera(
            hass, llm_context.device_id, camera_entity=args.get(CAMERA), area=args.get(AREA)
        )
        links = vision_links(hass, llm_context.device_id)
        frame = await async_frame(hass, target.camera, links[0].model or "")
        answer = await async_ask_about(
            hass, links, args[QUESTION], [frame], endpoint=llm_context.device_id
        )
        return {"camera": target.camera, "answer": answer}


class WatchTool(llm.Tool):
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
            vol.Optional(CAMERA, description="A camera entity id"): str,
            vol.Optional(AREA, description="An area or endpoint name"): str,
        }
    )

    async def async_call(
        self, hass: HomeAssistant, tool_input: llm.ToolInput, llm_context: llm.LLMContext
    ) -> JsonObjectType:
        """Take frames at two per second, keep the changed ones, ask about them together."""
        args: dict[str, Any] = self.parameters(tool_input.tool_args)
        target = find_camera(
            hass, llm_context.device_id, camera_entity=args.get(CAMERA), area=args.get(AREA)
        )
        links = vision_links(hass, llm_context.device_id)
        frames = await async_frames(hass, target.camera, links[0].model or "", args[SECONDS], 2.0)
        question = f"These are {len(frames)} frames in time order. {args[QUESTION]}"
        answer = await async_ask_about(
            hass, links, question, frames, endpoint=llm_context.device_id
        )
        return {"camera": target.camera, "frames": len(frames), "answer": answer}


@callback
def async_get_tools(
    hass: HomeAssistant, llm_context: llm.LLMContext, api_id: str
) -> LLMTools | None:
    """Offer the tools while the hub is set up."""
    if hub_entry(hass) is None:
        return None
    return LLMTools(tools=[LookTool(), WatchTool()])
