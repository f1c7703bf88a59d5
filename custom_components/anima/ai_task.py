"""AI task entities: structured data (and descriptions of attached images) from an agent's chain."""

from __future__ import annotations

from json import JSONDecodeError
from typing import override

from homeassistant.components import ai_task, conversation
from homeassistant.config_entries import ConfigSubentry
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util.json import json_loads
import probatio

from .core.ledger import Kind
from .core.profiles import AI_TASK, PROFILE_AGENT
from .entity import AnimaProfileEntity, async_add_per_subentry
from .providers.base import ProviderError
from .providers.strict_schema import drop_added_nulls
from .runtime.answering import async_run_chat
from .runtime.calls import CallSpec
from .runtime.chat_log import structure_schema
from .runtime.errors import translated
from .runtime.hub import HubConfigEntry

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: HubConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add an AI task entity for each agent profile that enables it."""
    async_add_per_subentry(
        entry,
        async_add_entities,
        PROFILE_AGENT,
        AnimaTaskEntity,
        lambda sub: bool(sub.data.get(AI_TASK)),
    )


class AnimaTaskEntity(ai_task.AITaskEntity, AnimaProfileEntity):
    """Generates data with the agent profile's chain, images attached where the model reads them."""

    _attr_supported_features = (
        ai_task.AITaskEntityFeature.GENERATE_DATA | ai_task.AITaskEntityFeature.SUPPORT_ATTACHMENTS
    )

    def __init__(self, entry: HubConfigEntry, subentry: ConfigSubentry) -> None:
        """Bind the task entity to its agent profile."""
        super().__init__(entry, subentry, "ai_task")

    @override
    async def _async_generate_data(
        self, task: ai_task.GenDataTask, chat_log: conversation.ChatLog
    ) -> ai_task.GenDataTaskResult:
        """Answer the task; with a structure, the answer must be JSON that fits it."""
        schema = (
            None if task.structure is None else structure_schema(task.structure, chat_log.llm_api)
        )
        kind = Kind.VISION if task.attachments else Kind.CHAT
        spec = CallSpec(kind, self.chain, profile=self.subentry_id)
        try:
            with self.anima.calls.begin(spec) as call:
                await async_run_chat(
                    self.hass, call, self.entity_id, self.profile, chat_log, json_schema=schema
                )
        except ProviderError as err:
            raise translated(HomeAssistantError, err.translation_key, name=self.entity_id) from err
        last = chat_log.content[-1]
        text = last.content or "" if isinstance(last, conversation.AssistantContent) else ""
        if task.structure is None:
            return ai_task.GenDataTaskResult(conversation_id=chat_log.conversation_id, data=text)
        try:
            # Strict schemas made the optional fields nullable; their nulls go again.
            data = task.structure(drop_added_nulls(schema or {}, json_loads(text)))
        except (JSONDecodeError, probatio.Invalid) as err:
            raise translated(HomeAssistantError, "invalid_structure", error=str(err)[:200]) from err
        return ai_task.GenDataTaskResult(conversation_id=chat_log.conversation_id, data=data)
