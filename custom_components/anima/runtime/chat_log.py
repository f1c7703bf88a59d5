"""Home Assistant's chat log in the providers' terms, and the providers' deltas back.

Pure translation between `conversation` content and `providers.base` messages: messages (image
attachments read from disk and prepared), tool specs, the JSON schema of an AI task's structure,
and streamed deltas as chat log deltas.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
import re
from typing import Any

from homeassistant.components import conversation
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import llm
from homeassistant.helpers.json import json_dumps
import probatio

from ..const import DOMAIN
from ..core.routing import FINISH_INTERRUPTED
from ..core.timing import Stopwatch
from ..core.vision import FrameError, prepare_frame
from ..providers.base import ChatDelta, ChatMessage, ImagePart, ToolCall, ToolSpec

type Delta = conversation.AssistantContentDeltaDict
#: A fence opens or closes a code block only at the start of a line (Markdown; shaping's rule).
_FENCE = re.compile(r"^[ \t]{0,3}```", re.M)


async def to_deltas(stream: AsyncIterator[ChatDelta], stopwatch: Stopwatch) -> AsyncIterator[Delta]:
    """Turn provider deltas into chat log deltas (one assistant message per model round).

    The first text marks the stage's delivery: what a listener waits for. An apology for a
    stream that broke inside a code block closes the block first, or a voice would drop the
    apology with the code.
    """
    yield {"role": "assistant"}
    said: list[str] = []
    async for delta in stream:
        if delta.text:
            if delta.finish_reason == FINISH_INTERRUPTED and len(_FENCE.findall("".join(said))) % 2:
                yield {"content": "\n```\n"}
            said.append(delta.text)
            yield {"content": delta.text}
            stopwatch.deliver()
        if delta.tool_calls:
            yield {
                "tool_calls": [
                    llm.ToolInput(tool_name=call.name, tool_args=call.arguments, id=call.id)
                    for call in delta.tool_calls
                ]
            }


def tool_specs(api: llm.APIInstance | None) -> tuple[ToolSpec, ...]:
    """Describe the chat log's tools as JSON schemas."""
    if api is None:
        return ()
    return tuple(
        ToolSpec(
            tool.name,
            tool.description or "",
            probatio.to_openapi(
                tool.parameters, custom_serializer=api.custom_serializer, openapi_version="3.1.0"
            ),
        )
        for tool in api.tools
    )


def structure_schema(structure: probatio.Schema, api: llm.APIInstance | None) -> dict[str, Any]:
    """Return an AI task's structure as the JSON schema the model must answer in."""
    schema: dict[str, Any] = probatio.to_openapi(
        structure,
        custom_serializer=api.custom_serializer if api else llm.selector_serializer,
        openapi_version="3.1.0",
    )
    return schema


async def to_messages(
    hass: HomeAssistant, contents: Iterable[conversation.Content]
) -> list[ChatMessage]:
    """Turn chat log content into messages; image attachments are read from disk."""
    messages: list[ChatMessage] = []
    for content in contents:
        match content:
            case conversation.SystemContent():
                messages.append(ChatMessage("system", content.content))
            case conversation.UserContent():
                images = await read_images(hass, content.attachments or ())
                messages.append(ChatMessage("user", content.content, images=images))
            case conversation.AssistantContent():
                # External calls too: a turn Home Assistant handled itself carries its intent's
                # call, and a result must follow the call it answers (Chat Completions refuses
                # a tool message without one).
                calls = tuple(
                    ToolCall(call.id, call.tool_name, call.tool_args)
                    for call in content.tool_calls or ()
                )
                messages.append(ChatMessage("assistant", content.content or "", tool_calls=calls))
            case conversation.ToolResultContent():
                # Home Assistant's encoder: intents' results hold times, dates and the like.
                result = json_dumps({"data": content.result.data, "error": content.result.error})
                messages.append(ChatMessage("tool", result, tool_call_id=content.tool_call_id))
    return messages


async def read_images(
    hass: HomeAssistant, attachments: Iterable[conversation.Attachment]
) -> tuple[ImagePart, ...]:
    """Read image attachments; anything else is refused with a clear error."""
    attachments = tuple(attachments)
    for attachment in attachments:
        if not attachment.mime_type.startswith("image/"):
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="unsupported_attachment",
                translation_placeholders={"mime_type": attachment.mime_type},
            )

    def read() -> tuple[ImagePart, ...]:
        # A camera snapshot can be megabytes: every image goes out prepared (JPEG, <= 1024 px).
        parts = []
        for attachment in attachments:
            try:
                frame = prepare_frame(attachment.path.read_bytes())
            except (OSError, FrameError) as err:
                raise HomeAssistantError(
                    translation_domain=DOMAIN,
                    translation_key="unreadable_attachment",
                    translation_placeholders={"name": attachment.media_content_id},
                ) from err
            parts.append(ImagePart(frame.jpeg, "image/jpeg"))
        return tuple(parts)

    return await hass.async_add_executor_job(read) if attachments else ()


def without_images(message: ChatMessage) -> ChatMessage:
    """Drop the images of a message for a model that reads text only."""
    if not message.images:
        return message
    return ChatMessage(message.role, message.content, (), message.tool_calls, message.tool_call_id)
