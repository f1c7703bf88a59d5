"""One agent turn: the chat log through the call pipeline to a chat model and back.

Shared by the conversation and AI task entities. The chat log is turned into provider-neutral
messages, streamed through the profile's chain (a provider failing before it says anything is
replaced by the next), and the deltas go back into the chat log, which runs the tool calls;
rounds repeat while tool results wait for an answer.

A conversation turn also gets the asking endpoint's persona in its instructions, its camera's
frame when its vision mode wants one for the question (one model call instead of a tool round
trip), and a class for the voice that will speak it (turn_notes).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.components import conversation
from homeassistant.core import HomeAssistant
from homeassistant.helpers import intent
from homeassistant.helpers.translation import async_get_translations

from ..const import DOMAIN, LOGGER
from ..core.endpoints import Endpoint, VisionMode
from ..core.history import estimated_tokens, without_oldest_turns
from ..core.ledger import Kind
from ..core.profiles import (
    BREVITY,
    DEFAULT_BREVITY,
    DEFAULT_MAX_TOKENS,
    DEFAULT_TEMPERATURE,
    LLM_HASS_API,
    MAX_TOKENS,
    MAX_TOOL_ROUNDS,
    PROMPT,
    TEMPERATURE,
    chain_of,
)
from ..core.routing import AllProvidersFailedError, Route
from ..core.speech.tiers import (
    INTENT_ACTION_DONE,
    MessageClass,
    classify_agent_reply,
    classify_intent,
)
from ..core.timing import Stopwatch
from ..core.vision import limits_for, looks_visual
from ..providers.base import (
    ChatMessage,
    ChatRequest,
    ImagePart,
    ProviderContextError,
    ProviderError,
)
from ..providers.presets import accepts_images
from .calls import CallSpec, ProviderCall
from .chat_log import to_deltas, to_messages, tool_specs, without_images
from .data import AnimaData
from .frames import LookError
from .hub import async_endpoint_of


async def async_run_chat(
    hass: HomeAssistant,
    call: ProviderCall,
    agent_id: str,
    profile: Mapping[str, Any],
    chat_log: conversation.ChatLog,
    *,
    json_schema: dict[str, Any] | None = None,
    images: tuple[ImagePart, ...] = (),
) -> None:
    """Answer the chat log through `call`, running tool calls, until the model has the last word.

    `images` go with the turn's question (a camera frame taken for it). Raises ProviderError
    subclasses when no provider of the chain answers.
    """
    tools = tool_specs(chat_log.llm_api)
    messages = await to_messages(hass, chat_log.content)
    if images and messages and messages[-1].role == "user":
        last = messages[-1]
        messages[-1] = ChatMessage("user", last.content, (*last.images, *images))
    temperature = float(profile.get(TEMPERATURE, DEFAULT_TEMPERATURE))
    max_tokens = int(profile.get(MAX_TOKENS, DEFAULT_MAX_TOKENS))

    def open_stream(route: Route[Any]) -> Any:
        model = route.model or ""
        images_ok = accepts_images(model)
        request = ChatRequest(
            model=model,
            messages=tuple(m if images_ok else without_images(m) for m in messages),
            tools=tools,
            temperature=temperature,
            max_tokens=max_tokens,
            json_schema=json_schema,
        )
        stream: Any = route.provider.stream_chat(request)
        return stream

    asked_again = False
    for _round in range(MAX_TOOL_ROUNDS):
        prompt_tokens = estimated_tokens(messages, tools)  # the bill of a broken stream
        stream = call.stream(open_stream, max_tokens=max_tokens, prompt_tokens=prompt_tokens)
        try:
            added = [
                content
                async for content in chat_log.async_add_delta_content_stream(
                    agent_id, to_deltas(stream, call.stopwatch)
                )
            ]
        except AllProvidersFailedError as err:
            # The model failed, not the providers: ask once more, differently; then say so.
            if (cause := err.model_caused) is None:
                raise
            shorter = without_oldest_turns(messages)
            if asked_again or (isinstance(cause, ProviderContextError) and shorter is None):
                raise ModelFailedError(str(cause)) from err
            asked_again = True
            LOGGER.info("%s: the model failed (%s); asking once more", agent_id, cause)
            if isinstance(cause, ProviderContextError):
                messages = shorter or messages
            else:  # its tool call broke the format: this time it answers in words
                tools = ()
            continue
        messages += await to_messages(hass, added)
        if not chat_log.unresponded_tool_results:
            return


class ModelFailedError(ProviderError):
    """The model failed the turn twice (its output, too long a history): said as such."""

    translation_key = "model_failed"


async def async_answer(
    hass: HomeAssistant,
    agent_id: str,
    profile_id: str,
    profile: Mapping[str, Any],
    user_input: conversation.ConversationInput,
    chat_log: conversation.ChatLog,
) -> conversation.ConversationResult:
    """Answer one conversation turn; if no provider answers, say so rather than stay silent."""
    stopwatch = Stopwatch()
    anima = AnimaData.of(hass)
    if not anima.coordination.prepare_turn(user_input, chat_log):  # another endpoint answers
        return conversation.ConversationResult(
            response=intent.IntentResponse(language=user_input.language),
            conversation_id=chat_log.conversation_id,
        )
    anima.turns.begin(user_input.device_id, agent_id, chat_log.conversation_id, user_input.text)
    endpoint = async_endpoint_of(hass, user_input.device_id)
    # An endpoint's persona ("You are the kitchen speaker ...") joins the instructions.
    prompt = "\n".join(
        part
        for part in (
            profile.get(PROMPT),
            profile.get(BREVITY, DEFAULT_BREVITY),
            endpoint.persona if endpoint else "",
        )
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
        return _answered(anima, user_input, chat_log, err.as_conversation_result(), success=False)
    spec = CallSpec(
        Kind.CHAT,
        chain_of(profile),
        profile=profile_id,
        endpoint=user_input.device_id,
        stage="llm",
        entity_id=agent_id,
    )
    try:
        with anima.calls.begin(spec, stopwatch=stopwatch) as call:
            images = await _eager_frame(hass, endpoint, user_input.text, call)
            if images:
                call.book_as(Kind.VISION)
            await async_run_chat(hass, call, agent_id, profile, chat_log, images=images)
    except ProviderError as err:
        LOGGER.warning("%s could not answer: %s", agent_id, err)
        response = intent.IntentResponse(language=user_input.language)
        response.async_set_error(
            intent.IntentResponseErrorCode.UNKNOWN,
            await _spoken_error(hass, user_input.language, _spoken_key(err)),
        )
        result = conversation.ConversationResult(
            response=response,
            conversation_id=chat_log.conversation_id,
            continue_conversation=False,
        )
        return _answered(anima, user_input, chat_log, result, success=False)
    result = conversation.async_get_result_from_chat_log(user_input, chat_log)
    return _answered(anima, user_input, chat_log, result, success=True)


def _answered(
    anima: AnimaData,
    user_input: conversation.ConversationInput,
    chat_log: conversation.ChatLog,
    result: conversation.ConversationResult,
    *,
    success: bool,
) -> conversation.ConversationResult:
    """Tell the turn tracker how the turn was answered (runtime/turns.py); return `result`."""
    anima.turns.answered(
        user_input.device_id,
        result.response.speech.get("plain", {}).get("speech", ""),
        turn_class(chat_log, continue_conversation=result.continue_conversation),
        success=success,
        continue_conversation=result.continue_conversation,
    )
    return result


async def _eager_frame(
    hass: HomeAssistant, endpoint: Endpoint | None, question: str, call: ProviderCall
) -> tuple[ImagePart, ...]:
    """Return the asking endpoint's camera frame when its vision mode wants it for `question`.

    One model call instead of a tool round trip: the frame (usually taken while the user was
    still speaking) goes with the question. A budget under pressure turns `always` into
    `on_demand`, and at its limit `eager` too; the look tool stays available.
    """
    if endpoint is None or endpoint.camera is None:
        return ()
    mode, budget = endpoint.vision_mode, call.degradation
    if budget.prefer_cheapest and mode is VisionMode.ALWAYS:
        mode = VisionMode.ON_DEMAND
    if budget.local_only and mode is VisionMode.EAGER:
        mode = VisionMode.ON_DEMAND
    wanted = mode is VisionMode.ALWAYS or (mode is VisionMode.EAGER and looks_visual(question))
    model = next((link.model for link in call.links if accepts_images(link.model or "")), None)
    if not wanted or model is None:
        return ()
    try:
        frame = await AnimaData.of(hass).frames.take(hass, endpoint, model)
    except LookError as err:
        LOGGER.info("No frame from %s for the question: %s", endpoint.camera, err)
        return ()
    return (ImagePart(frame.jpeg, "image/jpeg", limits_for(model).detail),)


def turn_class(chat_log: conversation.ChatLog, *, continue_conversation: bool) -> MessageClass:
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


def _spoken_key(err: ProviderError) -> str:
    """Return the key of what a failed turn says: the model failed, or no provider answered."""
    return "model_failed" if isinstance(err, ModelFailedError) else "no_answer"


async def _spoken_error(hass: HomeAssistant, language: str, name: str) -> str:
    """Return the translated sentence a device says when the turn could not be answered."""
    key = f"component.{DOMAIN}.exceptions.{name}.message"
    for lang in (language, "en"):
        translations = await async_get_translations(hass, lang, "exceptions", [DOMAIN])
        if key in translations:
            return translations[key]
    return key  # not reached: English always has it (tests check the strings)
