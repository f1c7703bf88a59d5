"""One agent turn: Home Assistant's chat log through the router to a chat model and back.

Shared by the conversation and AI task entities. The chat log is turned into provider-neutral
messages, streamed through the profile's chain (a provider failing before it says anything is
replaced by the next), and the deltas go back into the chat log, which runs the tool calls;
rounds repeat while tool results wait for an answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
import json
from typing import Any

from homeassistant.components import conversation
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import llm
import probatio

from .const import DOMAIN
from .hub import async_get_router, resolve_chain
from .profiles import (
    DEFAULT_MAX_TOKENS,
    DEFAULT_TEMPERATURE,
    MAX_TOKENS,
    MAX_TOOL_ROUNDS,
    TEMPERATURE,
    Link,
)
from .providers.base import (
    Capability,
    ChatDelta,
    ChatMessage,
    ChatRequest,
    ImagePart,
    ToolCall,
    ToolSpec,
)
from .providers.presets import accepts_images
from .routing import Route
from .timing import Stopwatch
from .vision import FrameError, prepare_frame

type Delta = conversation.AssistantContentDeltaDict


async def async_run_chat(
    hass: HomeAssistant,
    agent_id: str,
    links: Iterable[Link],
    profile: Mapping[str, Any],
    chat_log: conversation.ChatLog,
    *,
    json_schema: dict[str, Any] | None = None,
    images: tuple[ImagePart, ...] = (),
    stopwatch: Stopwatch | None = None,
) -> None:
    """Answer the chat log, running tool calls, until the model has the last word.

    `images` go with the turn's question (a camera frame taken for it). Raises ProviderError
    subclasses when no provider of the chain answers.
    """
    router = async_get_router(hass)
    chain = resolve_chain(hass, tuple(links), Capability.CHAT)
    tools = _tools(chat_log.llm_api)
    messages = await _messages(hass, chat_log.content)
    if images and messages and messages[-1].role == "user":
        last = messages[-1]
        messages[-1] = ChatMessage("user", last.content, (*last.images, *images))
    temperature = float(profile.get(TEMPERATURE, DEFAULT_TEMPERATURE))
    max_tokens = int(profile.get(MAX_TOKENS, DEFAULT_MAX_TOKENS))

    def open_stream(route: Route[Any]) -> AsyncIterator[ChatDelta]:
        model = route.model or ""
        images_ok = accepts_images(model)
        request = ChatRequest(
            model=model,
            messages=tuple(m if images_ok else _without_images(m) for m in messages),
            tools=tools,
            temperature=temperature,
            max_tokens=max_tokens,
            json_schema=json_schema,
        )
        stream: AsyncIterator[ChatDelta] = route.provider.stream_chat(request)
        if stopwatch is None:
            return stream
        stopwatch.ask()
        return _timed(stream, stopwatch)

    for _round in range(MAX_TOOL_ROUNDS):
        added = [
            content
            async for content in chat_log.async_add_delta_content_stream(
                agent_id, _deltas(router.stream(chain, open_stream), stopwatch)
            )
        ]
        messages += await _messages(hass, added)
        if not chat_log.unresponded_tool_results:
            return


async def _deltas(
    stream: AsyncIterator[ChatDelta], stopwatch: Stopwatch | None
) -> AsyncIterator[Delta]:
    """Turn provider deltas into chat log deltas (one assistant message per model round)."""
    yield {"role": "assistant"}
    async for delta in stream:
        if delta.text:
            yield {"content": delta.text}
            if stopwatch is not None:
                stopwatch.deliver()
        if delta.tool_calls:
            yield {
                "tool_calls": [
                    llm.ToolInput(tool_name=call.name, tool_args=call.arguments, id=call.id)
                    for call in delta.tool_calls
                ]
            }


async def _timed(
    stream: AsyncIterator[ChatDelta], stopwatch: Stopwatch
) -> AsyncIterator[ChatDelta]:
    """Mark when the provider's first delta arrives."""
    async for delta in stream:
        stopwatch.answer()
        yield delta


def _tools(api: llm.APIInstance | None) -> tuple[ToolSpec, ...]:
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


async def _messages(
    hass: HomeAssistant, contents: Iterable[conversation.Content]
) -> list[ChatMessage]:
    """Turn chat log content into messages; image attachments are read from disk."""
    messages: list[ChatMessage] = []
    for content in contents:
        match content:
            case conversation.SystemContent():
                messages.append(ChatMessage("system", content.content))
            case conversation.UserContent():
                images = await _images(hass, content.attachments or ())
                messages.append(ChatMessage("user", content.content, images=images))
            case conversation.AssistantContent():
                calls = tuple(
                    ToolCall(call.id, call.tool_name, call.tool_args)
                    for call in content.tool_calls or ()
                    if not call.external
                )
                messages.append(ChatMessage("assistant", content.content or "", tool_calls=calls))
            case conversation.ToolResultContent():
                result = {"data": content.result.data, "error": content.result.error}
                messages.append(
                    ChatMessage("tool", json.dumps(result), tool_call_id=content.tool_call_id)
                )
    return messages


async def _images(
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


def _without_images(message: ChatMessage) -> ChatMessage:
    """Drop the images of a message for a model that reads text only."""
    if not message.images:
        return message
    return ChatMessage(message.role, message.content, (), message.tool_calls, message.tool_call_id)
