"""Matching what someone said to sentence templates, as Home Assistant's `ask_question` does.

Templates are hassil's (`yes [please]`, `{anything}` for a wildcard): the answers of
`anima.ask_endpoint` and the sentence of the *question asked* device trigger.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hassil import Intents, recognize
from hassil.expression import Expression, Group, ListReference
from hassil.intents import WildcardSlotList
from hassil.parse_expression import parse_sentence
from hassil.parser import ParseError
from homeassistant.core import HomeAssistant
import probatio as vol


def sentence_template(value: Any) -> str:
    """Validate a sentence template (it must parse, as hassil reads it)."""
    text = str(value)
    try:
        parse_sentence(text)
    except ParseError as err:
        raise vol.Invalid(f"invalid sentence: {err}") from err
    return text


def match_answer(
    hass: HomeAssistant, sentence: str, answers: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """Match what was said to one of `answers` ({id, sentences}), as `ask_question` does."""
    intents = Intents.from_dict(
        {
            "language": hass.config.language,
            "intents": {
                "Answer": {
                    "data": [
                        {"sentences": a["sentences"], "metadata": {"answer_id": a["id"]}}
                        for a in answers
                    ]
                }
            },
        }
    )
    wildcards: set[str] = set()
    for intent in intents.intents.values():
        for data in intent.data:
            for template in data.sentences:
                _list_names(template.expression, wildcards)
    for name in wildcards:
        intents.slot_lists[name] = WildcardSlotList(name)
    result = recognize(sentence, intents)
    if result is None or not result.intent_metadata:
        return {"sentence": sentence, "id": None, "slots": {}}
    slots = {name: entity.value for name, entity in result.entities.items()}
    return {"sentence": sentence, "id": result.intent_metadata["answer_id"], "slots": slots}


def _list_names(expression: Expression, names: set[str]) -> None:
    if isinstance(expression, Group):
        for item in expression.items:
            _list_names(item, names)
    elif isinstance(expression, ListReference):
        names.add(expression.slot_name)


def matches(hass: HomeAssistant, sentence: str, template: str) -> bool:
    """Whether `sentence` is one `template` describes."""
    return (
        match_answer(hass, sentence, [{"id": "match", "sentences": [template]}])["id"] is not None
    )
