"""OpenAI's chat completion wire format: the request body and the assembly of its stream.

Pure data handling without I/O; `OpenAICompatClient.stream_chat` feeds it the data of each
server-sent event.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
import json
from typing import Any

from .base import (
    ChatDelta,
    ChatMessage,
    ChatRequest,
    ImagePart,
    ProviderOutputError,
    ProviderResponseError,
    ToolCall,
    Usage,
)
from .model_rules import rules_for
from .strict_schema import strict_schema

#: Characters of a provider's error message kept in ours.
MAX_DETAIL = 300
#: Characters of tool call arguments one answer may stream, and the calls it may make: far
#: above any real call (a compliant provider stops at max_tokens first), far below what fills
#: the memory or the next request's bill. Past either, the model failed (ProviderOutputError).
MAX_TOOL_ARGUMENTS = 64 * 1024
MAX_TOOL_CALLS = 64


def error_detail(data: Any) -> str | None:
    """Return the message of OpenAI's error JSON ({"error": {"message": ...}}) or the like."""
    error = data.get("error", data) if isinstance(data, dict) else data
    if isinstance(error, dict):
        error = error.get("message")
    return error if isinstance(error, str) else None


def chat_payload(request: ChatRequest) -> dict[str, Any]:
    """Return the JSON body of a streamed chat completion request."""
    payload: dict[str, Any] = {
        "model": request.model,
        "messages": [_message(message) for message in request.messages],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if request.tools:
        payload["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": tool.parameters,
                },
            }
            for tool in request.tools
        ]
    rules = rules_for(request.model)
    if request.temperature is not None and rules.temperature:
        payload["temperature"] = request.temperature
    if request.max_tokens is not None:
        payload[rules.max_tokens_field] = request.max_tokens
    if request.json_schema is not None:
        schema = strict_schema(request.json_schema)
        payload["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "result", "schema": schema, "strict": True},
        }
    return payload


def _message(message: ChatMessage) -> dict[str, Any]:
    """Return one message in OpenAI's format."""
    if message.role == "user" and message.images:
        parts: list[dict[str, Any]] = []
        if message.content:
            parts.append({"type": "text", "text": message.content})
        parts.extend(_image(image) for image in message.images)
        return {"role": "user", "content": parts}
    if message.role == "assistant" and message.tool_calls:
        calls = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
            }
            for call in message.tool_calls
        ]
        return {"role": "assistant", "content": message.content or None, "tool_calls": calls}
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
    return {"role": message.role, "content": message.content}


def _image(image: ImagePart) -> dict[str, Any]:
    encoded = base64.b64encode(image.data).decode("ascii")
    url = f"data:{image.mime_type};base64,{encoded}"
    return {"type": "image_url", "image_url": {"url": url, "detail": image.detail}}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


@dataclass(slots=True)
class _PartialCall:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class ChatStream:
    """Assembles the chunks of one streamed chat completion (choice 0)."""

    def __init__(self) -> None:
        self.finish_reason: str | None = None
        self._calls: dict[int, _PartialCall] = {}
        self._usage: dict[str, Any] = {}
        self._arguments = 0  # characters of the calls' arguments so far

    def feed(self, data: str) -> list[ChatDelta]:
        """Return the deltas one event's data gives (text now, tool calls when finished)."""
        try:
            chunk = json.loads(data)
        except ValueError:
            raise ProviderResponseError(f"A stream event is not JSON: {data[:80]!r}") from None
        if not isinstance(chunk, dict):
            raise ProviderResponseError("A stream event is not a JSON object")
        if (error := chunk.get("error")) is not None:
            # An error event after the answer began: llama-server sends it when it cannot parse
            # what the model wrote (a tool call out of format); the connection itself is fine.
            detail = error_detail(error) or "unknown error"
            raise ProviderOutputError(f"The answer failed mid-stream: {detail[:MAX_DETAIL]}")
        if isinstance(usage := chunk.get("usage"), dict):  # the last chunk, choices empty
            self._usage = usage
        deltas: list[ChatDelta] = []
        for choice in _list(chunk.get("choices")):
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta")
            if isinstance(delta, dict):
                if (text := delta.get("content")) and isinstance(text, str):
                    deltas.append(ChatDelta(text=text))
                fragments = _list(delta.get("tool_calls"))
                if fragments and not self._calls:
                    # A call is yielded once complete, which a slow model may take seconds to
                    # write: this empty delta tells the router the answer has begun.
                    deltas.append(ChatDelta())
                for fragment in fragments:
                    self._add_fragment(fragment)
            if reason := choice.get("finish_reason"):
                self.finish_reason = str(reason)
                if calls := self.take_tool_calls():
                    deltas.append(ChatDelta(tool_calls=calls))
        return deltas

    def _add_fragment(self, fragment: Any) -> None:
        """Add a tool call fragment: id and name come first, then pieces of the arguments."""
        if not isinstance(fragment, dict):
            raise ProviderResponseError("A tool call fragment is not a JSON object")
        index = fragment.get("index")
        if not isinstance(index, int):  # some servers omit it: a new id starts a new call
            index = len(self._calls) - (0 if fragment.get("id") or not self._calls else 1)
        call = self._calls.get(index)
        if call is None:
            if len(self._calls) == MAX_TOOL_CALLS:
                raise ProviderOutputError(f"The answer makes more than {MAX_TOOL_CALLS} tool calls")
            call = self._calls[index] = _PartialCall()
        function = fragment.get("function")
        function = function if isinstance(function, dict) else {}
        call.id = call.id or str(fragment.get("id") or "")
        call.name = call.name or str(function.get("name") or "")
        arguments = function.get("arguments")
        if isinstance(arguments, dict):  # a whole object, as some servers send it
            arguments = json.dumps(arguments)
        if isinstance(arguments, str):
            self._arguments += len(arguments)
            if self._arguments > MAX_TOOL_ARGUMENTS:
                raise ProviderOutputError(
                    f"Tool call {call.name[:64]!r} has more than {MAX_TOOL_ARGUMENTS} characters "
                    "of arguments"
                )
            call.arguments.append(arguments)

    def take_tool_calls(self) -> tuple[ToolCall, ...]:
        """Return the tool calls assembled so far, in index order, and forget them."""
        calls: list[ToolCall] = []
        for index, partial in sorted(self._calls.items()):
            text = "".join(partial.arguments).strip()
            try:
                arguments = json.loads(text) if text else {}
            except ValueError:
                arguments = None
            if not isinstance(arguments, dict) or not partial.name:
                raise ProviderOutputError(
                    f"Tool call {partial.name[:64]!r} has no name or its arguments are no "
                    "JSON object"
                )
            calls.append(ToolCall(partial.id or f"call_{index}", partial.name, arguments))
        self._calls.clear()
        return tuple(calls)

    def usage(self, images: int) -> Usage:
        """Return what the call consumed, with the number of images sent."""
        details = self._usage.get("prompt_tokens_details")
        cached = details.get("cached_tokens") if isinstance(details, dict) else None
        if cached is None:  # DeepSeek's own name for it
            cached = self._usage.get("prompt_cache_hit_tokens")
        return Usage(
            input_tokens=_count(self._usage.get("prompt_tokens")),
            output_tokens=_count(self._usage.get("completion_tokens")),
            cached_input_tokens=_count(cached),
            images=images,
        )


def _count(value: Any) -> int:
    """Return a token count the provider reported, or 0 for anything that is not one."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0
