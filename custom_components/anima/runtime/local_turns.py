"""Turns Home Assistant answers itself (local intents), noted for the voice that speaks them.

With "prefer handling commands locally" a pipeline answers "turn on the kitchen light" without
any agent: Anima's agent never sees the turn, so its voice would speak the reply as an answer,
in the expressive tier. Home Assistant writes such turns into the chat log (the intent as an
external tool call, its result, then its reply), and the chat logs can be watched: a reply
whose intents all did their action is a confirmation (the default policy plays its earcon);
a query's answer or an error stays an answer. The endpoint is the one whose satellite is busy.
"""

from __future__ import annotations

from typing import Any

from homeassistant.components import conversation
from homeassistant.components.conversation.chat_log import async_subscribe_chat_logs
from homeassistant.components.conversation.const import ChatLogEventType
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback

from ..core.speech.tiers import classify_intent
from .data import AnimaData
from .hub import async_busy_endpoint

LOCAL_AGENT = conversation.HOME_ASSISTANT_AGENT


@callback
def async_note_local_turns(hass: HomeAssistant, hub: ConfigEntry) -> None:
    """Note Home Assistant's own replies for the voice, while the hub is loaded."""
    notes, turns = AnimaData.of(hass).turn_notes, AnimaData.of(hass).turns
    results: dict[str, list[str | None]] = {}  # conversation -> its turn's intents' results
    asked: dict[str, str] = {}  # conversation -> its turn's question (for the turn's record)

    @callback
    def changed(conversation_id: str, event: str, data: dict[str, Any]) -> None:
        if event == ChatLogEventType.DELETED:
            results.pop(conversation_id, None)
            asked.pop(conversation_id, None)
        if event != ChatLogEventType.CONTENT_ADDED:
            return
        content = data.get("content") or {}
        role = content.get("role")
        if role == "user":
            results[conversation_id] = []
            asked[conversation_id] = str(content.get("content") or "")
        elif role == "tool_result":  # the intent's result (booked to the pipeline's agent)
            result = (content.get("result") or {}).get("data") or {}
            results.setdefault(conversation_id, []).append(result.get("response_type"))
        elif role == "assistant" and content.get("agent_id") == LOCAL_AGENT:
            kinds = results.pop(conversation_id, [])
            kind = kinds[0] if kinds and len(set(kinds)) == 1 else "query_answer"
            text = str(content.get("content") or "")
            device, message_class = async_busy_endpoint(hass), classify_intent(kind)
            notes.end(device, text, message_class)
            question = asked.pop(conversation_id, "")
            turns.answered_locally(
                device, LOCAL_AGENT, conversation_id, question, text, message_class
            )

    hub.async_on_unload(async_subscribe_chat_logs(hass, changed))
