"""Conversation agents: one per agent profile, answering through the profile's chain."""

from __future__ import annotations

from typing import Literal, override

from homeassistant.components import conversation
from homeassistant.config_entries import ConfigSubentry
from homeassistant.const import MATCH_ALL
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .core.profiles import LLM_HASS_API, PROFILE_AGENT
from .entity import AnimaProfileEntity, async_add_per_subentry
from .runtime.answering import async_answer, turn_class
from .runtime.hub import HubConfigEntry

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: HubConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add one agent per agent profile."""
    async_add_per_subentry(entry, async_add_entities, PROFILE_AGENT, AnimaConversationEntity)


class AnimaConversationEntity(conversation.ConversationEntity, AnimaProfileEntity):
    """A conversation agent whose model can be swapped without touching its pipelines."""

    _attr_supports_streaming = True

    def __init__(self, entry: HubConfigEntry, subentry: ConfigSubentry) -> None:
        """Bind the agent to its profile."""
        super().__init__(entry, subentry, "conversation")
        if subentry.data.get(LLM_HASS_API):
            self._attr_supported_features = conversation.ConversationEntityFeature.CONTROL

    @property
    @override
    def supported_languages(self) -> list[str] | Literal["*"]:
        """Any language: the model decides."""
        return MATCH_ALL

    @override
    async def _async_handle_message(
        self,
        user_input: conversation.ConversationInput,
        chat_log: conversation.ChatLog,
    ) -> conversation.ConversationResult:
        """Answer one turn, noting it for the voice that will speak it."""
        notes = self.anima.turn_notes
        notes.begin(user_input.device_id)
        result = await async_answer(
            self.hass, self.entity_id, self.subentry_id, self.profile, user_input, chat_log
        )
        notes.end(
            user_input.device_id,
            result.response.speech.get("plain", {}).get("speech", ""),
            turn_class(chat_log, continue_conversation=result.continue_conversation),
        )
        return result
