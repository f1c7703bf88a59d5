"""A conversation's history made shorter when the model cannot take it all.

Pure: no Home Assistant imports. A request longer than the model's context is refused (HTTP 400);
asked again with the oldest half of the earlier turns left out (the system prompt and the
current turn always stay), it usually fits.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..providers.base import ChatMessage


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
