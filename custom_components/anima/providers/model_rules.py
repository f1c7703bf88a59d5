"""Per-model rules of the chat completion request, read from models.json (data, not code).

Some models refuse fields others need: OpenAI's reasoning models (o-series, gpt-5) answer HTTP
400 to `max_tokens` (they take `max_completion_tokens`) and to any temperature but the default.
A model no rule matches gets the usual request.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
import json
from pathlib import Path
import re
from typing import Any, Final, Literal

MODELS_FILE: Final = Path(__file__).parent.parent / "models.json"

type TokenLimitField = Literal["max_tokens", "max_completion_tokens"]


@dataclass(frozen=True, slots=True)
class ModelRules:
    """How a chat request for one model is written."""

    #: The request field that carries the answer's token limit.
    max_tokens_field: TokenLimitField = "max_tokens"
    #: Whether the model takes a temperature (else none is sent).
    temperature: bool = True


USUAL: Final = ModelRules()


def parse_rules(data: Any) -> tuple[tuple[re.Pattern[str], ModelRules], ...]:
    """Return the (pattern, rules) pairs of models.json's content, in order; raises ValueError."""
    rules = data.get("rules") if isinstance(data, dict) else None
    if not isinstance(rules, list):
        raise ValueError("models.json has no `rules` list")  # noqa: TRY004 - bad data, not code
    parsed = []
    for rule in rules:
        if not isinstance(rule, dict) or not isinstance(rule.get("pattern"), str):
            raise ValueError(f"models.json: a rule without a pattern: {rule!r}")  # noqa: TRY004
        field = rule.get("max_tokens_field", USUAL.max_tokens_field)
        temperature = rule.get("temperature", USUAL.temperature)
        if field not in ("max_tokens", "max_completion_tokens") or not isinstance(
            temperature, bool
        ):
            raise ValueError(f"models.json: bad rule {rule!r}")
        pattern = re.compile(rule["pattern"], re.IGNORECASE)
        parsed.append((pattern, ModelRules(field, temperature)))
    return tuple(parsed)


@cache
def _rules() -> tuple[tuple[re.Pattern[str], ModelRules], ...]:
    return parse_rules(json.loads(MODELS_FILE.read_text(encoding="utf-8")))


def rules_for(model: str) -> ModelRules:
    """Return the rules of `model`: those of the first matching pattern, else the usual ones."""
    return next((rules for pattern, rules in _rules() if pattern.search(model)), USUAL)


# Read at import (Home Assistant imports integrations outside its event loop), so no request
# ever waits on the file, and a broken models.json fails the integration's set-up loudly.
_rules()
