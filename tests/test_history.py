"""A history too long for the model loses its oldest turns whole, never the current one; what a
request carried can be estimated for a bill the provider never sent."""

from custom_components.anima.core.history import estimated_tokens, without_oldest_turns
from custom_components.anima.providers.base import ChatMessage, ImagePart, ToolCall, ToolSpec


def test_the_oldest_half_of_the_earlier_turns_goes_with_its_tool_calls() -> None:
    call = ToolCall("c1", "intent__HassTurnOn", {"name": "Kitchen light"})
    messages = [
        ChatMessage("system", "You are Anima."),
        ChatMessage("user", "Turn on the kitchen light"),
        ChatMessage("assistant", "", tool_calls=(call,)),
        ChatMessage("tool", "{}", tool_call_id="c1"),
        ChatMessage("assistant", "Done."),
        ChatMessage("user", "My name is Sam."),
        ChatMessage("assistant", "Hello Sam."),
        ChatMessage("user", "What is my name?"),
    ]
    shorter = without_oldest_turns(messages)
    assert shorter == [messages[0], *messages[5:]]
    assert without_oldest_turns(shorter) == [messages[0], messages[-1]]
    assert without_oldest_turns([messages[0], messages[-1]]) is None  # only the question left


def test_a_requests_tokens_are_estimated_from_its_text_tools_and_images() -> None:
    question = [ChatMessage("system", "s" * 400), ChatMessage("user", "q" * 40)]
    assert estimated_tokens(question) == 110
    tool = ToolSpec("look", "Look through a camera", {"type": "object", "properties": {}})
    assert estimated_tokens(question, [tool]) > 110  # the tool schemas are prompt too
    photo = ImagePart(b"\xff\xd8", "image/jpeg")
    with_photo = [*question[:1], ChatMessage("user", "q" * 40, images=(photo,))]
    assert estimated_tokens(with_photo) >= 110 + 85
