"""OpenAI's Responses API (POST /v1/responses) as api.openai.com streams it, for the fake server.

Home Assistant core's own OpenAI integration (`openai_conversation`) talks to this API, not to
Chat Completions; the latency benchmark runs it against the same fake service as Anima. A
streamed answer is a sequence of typed server-sent events (`event: <type>` and its JSON `data`
carrying the same `type` and a `sequence_number`): response.created, response.in_progress,
then per output item (a message with text deltas, or a function call with argument deltas)
its added / delta / done events, and response.completed with the whole response and its usage.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .openai_server import Reply


def input_text(body: dict[str, Any]) -> str:
    """Return the text of the last user message of a request's `input`."""
    items = body.get("input")
    if isinstance(items, str):
        return items
    for item in reversed(items if isinstance(items, list) else []):
        if isinstance(item, dict) and item.get("role") == "user":
            content = item.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(
                    part.get("text", "")
                    for part in content
                    if isinstance(part, dict) and part.get("type") == "input_text"
                )
    return ""


def refusal(body: Any) -> tuple[str, str] | None:
    """Return (message, param) of OpenAI's 400 for a request it refuses, else None."""
    if not isinstance(body, dict) or not isinstance(body.get("model"), str):
        return "Missing required parameter: 'model'.", "model"
    return None


def response_events(body: dict[str, Any], reply: Reply, number: int) -> list[tuple[str, str]]:
    """Return the (event type, JSON data) of each server-sent event of a streamed answer."""
    events: list[dict[str, Any]] = []
    output: list[dict[str, Any]] = []

    def emit(kind: str, **fields: Any) -> None:
        events.append({"type": kind, "sequence_number": len(events), **fields})

    emit("response.created", response=_response(body, number, "in_progress", [], None))
    emit("response.in_progress", response=_response(body, number, "in_progress", [], None))
    if reply.pieces:
        item_id = f"msg_fake{number}"
        text = "".join(reply.pieces)
        part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        message = {"id": item_id, "type": "message", "status": "in_progress", "role": "assistant"}
        place = {"item_id": item_id, "output_index": 0, "content_index": 0}
        emit("response.output_item.added", output_index=0, item=message | {"content": []})
        emit("response.content_part.added", **place, part=part)
        for piece in reply.pieces:
            emit("response.output_text.delta", **place, delta=piece, logprobs=[])
        emit("response.output_text.done", **place, text=text, logprobs=[])
        done_part = part | {"text": text}
        emit("response.content_part.done", **place, part=done_part)
        finished = message | {"status": "completed", "content": [done_part]}
        emit("response.output_item.done", output_index=0, item=finished)
        output.append(finished)
    for call in reply.calls:
        index = len(output)
        arguments = json.dumps(call.arguments)
        item = {
            "id": f"fc_fake{number}{index}",
            "type": "function_call",
            "status": "in_progress",
            "call_id": call.id,
            "name": call.name,
            "arguments": "",
        }
        place = {"item_id": item["id"], "output_index": index}
        emit("response.output_item.added", output_index=index, item=item)
        for piece in (arguments[start : start + 7] for start in range(0, len(arguments), 7)):
            emit("response.function_call_arguments.delta", **place, delta=piece)
        emit("response.function_call_arguments.done", **place, arguments=arguments)
        finished = item | {"status": "completed", "arguments": arguments}
        emit("response.output_item.done", output_index=index, item=finished)
        output.append(finished)
    usage = _usage(body, reply)
    emit("response.completed", response=_response(body, number, "completed", output, usage))
    return [(event["type"], json.dumps(event)) for event in events]


def response_object(body: dict[str, Any], reply: Reply, number: int) -> dict[str, Any]:
    """Return the response object of an answer that is not streamed."""
    events = response_events(body, reply, number)
    return dict(json.loads(events[-1][1])["response"])


def _response(
    body: dict[str, Any],
    number: int,
    status: str,
    output: list[dict[str, Any]],
    usage: dict[str, Any] | None,
) -> dict[str, Any]:
    return {
        "id": f"resp_fake{number}",
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "model": body["model"],
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": body.get("previous_response_id"),
        "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0),
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools", []),
        "top_p": body.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": usage,
        "metadata": {},
    }


def _usage(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    if reply.usage is not None:
        prompt, completion = reply.usage
    else:
        prompt = len(json.dumps(body.get("input", "")).split()) + len(
            str(body.get("instructions") or "").split()
        )
        completion = len(reply.pieces) + len(reply.calls) * 8
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": reply.cached_tokens},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": prompt + completion,
    }
