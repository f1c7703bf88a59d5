"""OpenAI's strict structured outputs: the schema it accepts, and answers fit for the original.

With `strict: true` OpenAI refuses a schema unless every object lists all its properties as
required and sets `additionalProperties: false`. An optional property is therefore made nullable
(the model answers null for it), nested objects too; `drop_added_nulls` removes those nulls again
so the answer validates against the caller's schema. Other servers (llama-server, vLLM, Ollama)
take the strict form as well: it is valid JSON schema.
"""

from __future__ import annotations

import copy
from typing import Any


def strict_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Return `schema` as OpenAI's strict structured outputs demand it (a changed copy)."""
    strict = copy.deepcopy(schema)
    _make_strict(strict)
    return strict


_SUBSCHEMA_MAPS = ("properties", "$defs", "definitions")
_SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")


def _make_strict(schema: Any) -> None:
    if not isinstance(schema, dict):
        return
    for key in _SUBSCHEMA_MAPS:
        for sub in (schema.get(key) or {}).values():
            _make_strict(sub)
    for key in _SUBSCHEMA_LISTS:
        for sub in schema.get(key) or ():
            _make_strict(sub)
    _make_strict(schema.get("items"))
    types = schema.get("type")
    if not (types == "object" or (isinstance(types, list) and "object" in types)):
        return
    properties: dict[str, Any] = schema.setdefault("properties", {})
    required = schema.get("required") or []
    for name, sub in properties.items():
        if name not in required and isinstance(sub, dict):
            properties[name] = _nullable(sub)
    schema["required"] = list(properties)
    schema["additionalProperties"] = False


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """Return `schema` allowing null as well, without loosening what it allows otherwise."""
    types = schema.get("type")
    if schema.keys() & {"enum", "const", "anyOf", "oneOf", "$ref"} or not types:
        return {"anyOf": [schema, {"type": "null"}]}
    types = [types] if isinstance(types, str) else list(types)
    return schema | {"type": types if "null" in types else [*types, "null"]}


def drop_added_nulls(schema: dict[str, Any], value: Any) -> Any:
    """Return a strict answer `value` fit for the original `schema` again.

    Drops the nulls `strict_schema` allowed for properties `schema` does not require.
    """
    if isinstance(value, list):
        items = schema.get("items")
        return [drop_added_nulls(items, v) if isinstance(items, dict) else v for v in value]
    if not isinstance(value, dict) or not isinstance(schema.get("properties"), dict):
        return value
    properties: dict[str, Any] = schema["properties"]
    required = schema.get("required") or []
    return {
        key: drop_added_nulls(properties[key], v) if isinstance(properties.get(key), dict) else v
        for key, v in value.items()
        if v is not None or key in required or key not in properties
    }
