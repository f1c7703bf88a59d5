"""A conversation's history made shorter when the model cannot take it all.

Pure: no Home Assistant imports. A request longer than the model's context is refused (HTTP 400);
asked again with the oldest half of the earlier turns left out (the system prompt and the
current turn always stay), it usually fits.
"""

from __future__ import annotations

from collections.abc import Sequence
import json

from ..providers.base import ChatMessage, ToolSpec

#: Characters per token when estimating what a request carried (English text, JSON schemas).
CHARACTERS_PER_TOKEN = 4
#: What one image costs a prompt, at least (OpenAI's low detail).
IMAGE_TOKENS = 85


def without_oldest_turns(messages: Sequence[ChatMessage]) -> list[ChatMessage] | None:
    """Return `messages` with the older half of the earlier turns dropped (None: none to drop).

    A turn begins at a user message and holds what answered it (assistant messages, tool
    calls and their results), so a tool result never loses its call.
    """
    system = [m for m in messages[: _first_turn(messages)] if m.role == "system"]
    starts = [index for index, message in enumerate(messages) if message.role == "user"]
    if len(starts) < 2:
        return None
    earlier = len(starts) - 1  # turns before the current one
    keep_from = starts[(earlier + 1) // 2]
    return [*system, *messages[keep_from:]]


def _first_turn(messages: Sequence[ChatMessage]) -> int:
    return next((i for i, m in enumerate(messages) if m.role == "user"), len(messages))


def estimated_tokens(messages: Sequence[ChatMessage], tools: Sequence[ToolSpec] = ()) -> int:
    """Estimate the prompt tokens of a request: for a bill when the provider reported none."""
    characters = sum(
        len(m.content) + sum(len(json.dumps(c.arguments)) for c in m.tool_calls) for m in messages
    )
    characters += sum(
        len(t.name) + len(t.description) + len(json.dumps(t.parameters)) for t in tools
    )
    images = sum(len(m.images) for m in messages)
    return characters // CHARACTERS_PER_TOKEN + images * IMAGE_TOKENS
