"""Conversation agents: one per agent profile, answering through the profile's chain."""

from __future__ import annotations

from typing import Literal, override

from homeassistant.components import conversation
from homeassistant.config_entries import ConfigEntry, ConfigSubentry
from homeassistant.const import MATCH_ALL
from homeassistant.core import HomeAssistant
from homeassistant.helpers import intent
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.translation import async_get_translations

from .budgeting import KEEPER, links_within_budget
from .budgets import Degradation
from .chat import async_run_chat
from .const import DOMAIN, LOGGER
from .endpoints import Endpoint, VisionMode
from .entity import AnimaProfileEntity, async_add_per_subentry
from .hub import async_endpoint_of, async_timings, async_turn_notes
from .ledger import Kind
from .looking import FRAMES, LookError
from .metering import metered
from .profiles import BREVITY, DEFAULT_BREVITY, LLM_HASS_API, PROFILE_AGENT, PROMPT, Link
from .providers.base import ImagePart, ProviderError
from .providers.presets import accepts_images
from .speech.tiers import (
    INTENT_ACTION_DONE,
    MessageClass,
    classify_agent_reply,
    classify_intent,
)
from .timing import Stopwatch
from .vision import limits_for, looks_visual

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add one agent per agent profile."""
    async_add_per_subentry(entry, async_add_entities, PROFILE_AGENT, AnimaConversationEntity)


class AnimaConversationEntity(conversation.ConversationEntity, AnimaProfileEntity):
    """A conversation agent whose model can be swapped without touching its pipelines."""

    _attr_supports_streaming = True

    def __init__(self, entry: ConfigEntry, subentry: ConfigSubentry) -> None:
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
        notes = async_turn_notes(self.hass)
        notes.begin(user_input.device_id)
        result = await self._answer(user_input, chat_log)
        notes.end(
            user_input.device_id,
            result.response.speech.get("plain", {}).get("speech", ""),
            _turn_class(chat_log, continue_conversation=result.continue_conversation),
        )
        return result

    async def _answer(
        self, user_input: conversation.ConversationInput, chat_log: conversation.ChatLog
    ) -> conversation.ConversationResult:
        """Answer one turn; if no provider answers, say so rather than stay silent."""
        stopwatch = Stopwatch()
        profile = self.profile
        # An endpoint's persona ("You are the kitchen speaker ...") joins the instructions.
        endpoint = async_endpoint_of(self.hass, user_input.device_id)
        persona = endpoint.persona if endpoint else ""
        prompt = "\n".join(
            part
            for part in (profile.get(PROMPT), profile.get(BREVITY, DEFAULT_BREVITY), persona)
            if part
        )
        try:
            await chat_log.async_provide_llm_data(
                user_input.as_llm_context(DOMAIN),
                profile.get(LLM_HASS_API) or None,
                prompt,
                user_input.extra_system_prompt,
            )
        except conversation.ConverseError as err:
            return err.as_conversation_result()
        try:
            budget = self.hass.data[KEEPER].status(user_input.device_id).degradation
            links = links_within_budget(self.hass, self.chain, budget)
            images = await _eager_frame(self.hass, endpoint, user_input.text, links, budget)
            kind = Kind.VISION if images else Kind.CHAT
            with metered(kind, profile=self.subentry_id, endpoint=user_input.device_id):
                await async_run_chat(
                    self.hass,
                    self.entity_id,
                    links,
                    profile,
                    chat_log,
                    images=images,
                    stopwatch=stopwatch,
                )
            async_timings(self.hass).add(stopwatch.timing("llm", self.entity_id))
        except ProviderError as err:
            LOGGER.warning("%s could not answer: %s", self.entity_id, err)
            response = intent.IntentResponse(language=user_input.language)
            response.async_set_error(
                intent.IntentResponseErrorCode.UNKNOWN,
                await _spoken_error(self.hass, user_input.language),
            )
            return conversation.ConversationResult(
                response=response,
                conversation_id=chat_log.conversation_id,
                continue_conversation=False,
            )
        return conversation.async_get_result_from_chat_log(user_input, chat_log)


async def _eager_frame(
    hass: HomeAssistant,
    endpoint: Endpoint | None,
    question: str,
    links: tuple[Link, ...],
    budget: Degradation,
) -> tuple[ImagePart, ...]:
    """Return the asking endpoint's camera frame when its vision mode wants it for `question`.

    One model call instead of a tool round trip: the frame (usually taken while the user was
    still speaking) goes with the question. A budget under pressure turns `always` into
    `on_demand`, and at its limit `eager` too; the look tool stays available.
    """
    if endpoint is None or endpoint.camera is None:
        return ()
    mode = endpoint.vision_mode
    if budget.prefer_cheapest and mode is VisionMode.ALWAYS:
        mode = VisionMode.ON_DEMAND
    if budget.local_only and mode is VisionMode.EAGER:
        mode = VisionMode.ON_DEMAND
    wanted = mode is VisionMode.ALWAYS or (mode is VisionMode.EAGER and looks_visual(question))
    model = next((link.model for link in links if accepts_images(link.model or "")), None)
    if not wanted or model is None:
        return ()
    try:
        frame = await hass.data[FRAMES].take(hass, endpoint, model)
    except LookError as err:
        LOGGER.info("No frame from %s for the question: %s", endpoint.camera, err)
        return ()
    return (ImagePart(frame.jpeg, "image/jpeg", limits_for(model).detail),)


def _turn_class(chat_log: conversation.ChatLog, *, continue_conversation: bool) -> MessageClass:
    """Classify the turn just answered: an action done is a confirmation, else an answer."""
    if continue_conversation:
        return MessageClass.CONVERSATION
    this_turn: list[conversation.Content] = []
    for content in reversed(chat_log.content):
        if isinstance(content, conversation.UserContent):
            break
        this_turn.append(content)
    results = [c.result for c in this_turn if isinstance(c, conversation.ToolResultContent)]
    actions = [r.data.get("response_type") for r in results if not r.error]
    if actions and all(kind == INTENT_ACTION_DONE for kind in actions):
        return classify_intent(INTENT_ACTION_DONE)
    return classify_agent_reply()


async def _spoken_error(hass: HomeAssistant, language: str) -> str:
    """Return the translated sentence a device says when no provider answered."""
    key = f"component.{DOMAIN}.exceptions.no_answer.message"
    for lang in (language, "en"):
        translations = await async_get_translations(hass, lang, "exceptions", [DOMAIN])
        if key in translations:
            return translations[key]
    return key  # not reached: English always has it (tests check the strings)
