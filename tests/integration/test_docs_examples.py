"""The YAML in the documentation is what a user can paste: every block parses, and every
automation and action in it passes Home Assistant's own validation of triggers, conditions and
actions. The entities and devices are the reader's: device triggers and actions, which Home
Assistant checks against a real device, are checked for their shape only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
import re
from typing import Any

from homeassistant.components.automation.config import PLATFORM_SCHEMA
from homeassistant.core import HomeAssistant
from homeassistant.helpers import condition, config_validation as cv, script, trigger
from homeassistant.setup import async_setup_component
import probatio as vol
import pytest
import yaml

ROOT = Path(__file__).parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```yaml\n(.*?)^```", re.MULTILINE | re.DOTALL)


class _ReadersTags(yaml.SafeLoader):
    """YAML with Home Assistant's and ESPHome's tags (`!secret`, `!include`): the reader's."""


_ReadersTags.add_multi_constructor("!", lambda loader, suffix, node: f"<{suffix}>")


def _blocks() -> Iterator[Any]:
    for doc in DOCS:
        for number, match in enumerate(BLOCK.finditer(doc.read_text()), start=1):
            yield pytest.param(match[1], id=f"{doc.name}-{number}")


def _automations(data: Any) -> list[dict[str, Any]]:
    """The automations of a block: a list under `automation:`, or the block itself."""
    if isinstance(data, dict) and isinstance(data.get("automation"), list):
        return list(data["automation"])
    if isinstance(data, dict) and ("triggers" in data or "trigger" in data):
        return [data]
    return []


def _actions(data: Any) -> list[Any]:
    """The actions of a block that is actions only (a list of them, or `action(s):` alone)."""
    if isinstance(data, list) and all(isinstance(a, dict) and "action" in a for a in data):
        return data
    if isinstance(data, dict) and not _automations(data):
        return list(data.get("actions") or data.get("action") or [])
    return []


def _not_a_device(items: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """The items Home Assistant can check without the reader's devices."""
    return [item for item in items if item.get(key) != "device" and "device_id" not in item]


async def _validate(hass: HomeAssistant, text: str) -> None:
    """Parse one block and validate what Home Assistant would run of it."""
    data = yaml.load(text, _ReadersTags)  # a SafeLoader that keeps tags as text
    assert await async_setup_component(hass, "homeassistant", {})
    for automation in _automations(data):
        checked = PLATFORM_SCHEMA(automation)  # the shape of an automation
        await trigger.async_validate_trigger_config(
            hass, _not_a_device(checked["triggers"], "platform")
        )
        await condition.async_validate_conditions_config(
            hass, _not_a_device(checked.get("conditions", []), "condition")
        )
        await script.async_validate_actions_config(hass, _not_a_device(checked["actions"], "type"))
    if actions := _actions(data):
        await script.async_validate_actions_config(
            hass, _not_a_device(cv.SCRIPT_SCHEMA(actions), "type")
        )


@pytest.mark.parametrize("text", list(_blocks()))
async def test_a_yaml_example_is_valid_home_assistant_configuration(
    hass: HomeAssistant, text: str
) -> None:
    await _validate(hass, text)


@pytest.mark.parametrize(
    "text",
    [
        "automation:\n  - triggers: [{trigger: time, att: '22:00:00'}]\n    actions: []\n",
        "triggers: [{trigger: state, entity_id: sensor.x}]\nactions: [{action: notify notify}]\n",
        "- action: tts.speak\n  data: {message: '{{ unclosed'}\n",
        "actions: [{action: notify.notify, data: {message: [unclosed}]\n",
    ],
    ids=["unknown trigger option", "malformed action", "broken template", "not yaml"],
)
async def test_a_broken_example_is_refused(hass: HomeAssistant, text: str) -> None:
    with pytest.raises((vol.Invalid, yaml.YAMLError)):
        await _validate(hass, text)
