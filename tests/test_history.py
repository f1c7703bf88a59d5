"""A history too long for the model loses its oldest turns whole, never the current one."""

from custom_components.anima.core.history import without_oldest_turns
from custom_components.anima.providers.base import ChatMessage, ToolCall


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
