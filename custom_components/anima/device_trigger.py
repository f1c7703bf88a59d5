"""Device triggers on endpoints and the hub: turns answered or failed, questions, budgets.

On an endpoint's Anima device: a turn was answered, a question was asked (optionally matching a
sentence template such as "is the [front] door locked"), a camera question was answered, an
answer failed, its budget reached its warning level or was exceeded. On the hub's device: the
house budget's warning and limit. Each listens to Anima's events (`anima_turn`,
`anima_question`, `anima_budget`); the trigger's variables carry the event (`trigger.event`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from homeassistant.components.device_automation import DEVICE_TRIGGER_BASE_SCHEMA
from homeassistant.const import CONF_DEVICE_ID, CONF_DOMAIN, CONF_PLATFORM, CONF_TYPE
from homeassistant.core import CALLBACK_TYPE, Event, HassJob, HomeAssistant, callback
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.trigger import TriggerActionType, TriggerInfo
from homeassistant.helpers.typing import ConfigType
import probatio as vol

from .const import DOMAIN, EVENT_BUDGET, EVENT_QUESTION, EVENT_TURN
from .runtime.answers import matches, sentence_template
from .runtime.devices import anima_device_kind

SENTENCE: Final = "sentence"
#: Each trigger: the event it listens to and the data the event must carry.
TRIGGERS: Final[Mapping[str, tuple[str, Mapping[str, Any]]]] = {
    "turn_answered": (EVENT_TURN, {"success": True}),
    "question_asked": (EVENT_QUESTION, {}),
    "camera_answered": (EVENT_TURN, {"success": True, "looked": True}),
    "answer_failed": (EVENT_TURN, {"success": False}),
    "budget_warning": (EVENT_BUDGET, {"level": "warning"}),
    "budget_exceeded": (EVENT_BUDGET, {"level": "exceeded"}),
}
BUDGET_TRIGGERS: Final = ("budget_warning", "budget_exceeded")

TRIGGER_SCHEMA = DEVICE_TRIGGER_BASE_SCHEMA.extend(
    {
        vol.Required(CONF_TYPE): vol.In(list(TRIGGERS)),
        vol.Optional(SENTENCE): vol.All(cv.string, vol.Length(max=300), sentence_template),
    }
)


async def async_get_triggers(hass: HomeAssistant, device_id: str) -> list[dict[str, str]]:
    """List the triggers of an endpoint's device (all) or the hub's (the house budget)."""
    kind = anima_device_kind(hass, device_id)
    types = list(TRIGGERS) if kind == "endpoint" else BUDGET_TRIGGERS if kind == "hub" else ()
    return [
        {CONF_PLATFORM: "device", CONF_DOMAIN: DOMAIN, CONF_DEVICE_ID: device_id, CONF_TYPE: t}
        for t in types
    ]


async def async_get_trigger_capabilities(
    hass: HomeAssistant, config: ConfigType
) -> dict[str, vol.Schema]:
    """Return the sentence field of a question trigger (others have none)."""
    if config[CONF_TYPE] != "question_asked":
        return {}
    return {"extra_fields": vol.Schema({vol.Optional(SENTENCE): cv.string})}


async def async_attach_trigger(
    hass: HomeAssistant,
    config: ConfigType,
    action: TriggerActionType,
    trigger_info: TriggerInfo,
) -> CALLBACK_TYPE:
    """Run `action` on each of the device's events of the trigger's kind."""
    event_type, wanted = TRIGGERS[config[CONF_TYPE]]
    sentence: str | None = config.get(SENTENCE)
    job = HassJob(action, f"anima {config[CONF_TYPE]}")

    @callback
    def fired(event: Event[dict[str, Any]]) -> None:
        data = event.data
        if data.get("device_id") != config[CONF_DEVICE_ID]:
            return
        if any(data.get(key) != value for key, value in wanted.items()):
            return
        if sentence and not matches(hass, str(data.get("question") or ""), sentence):
            return
        trigger = {
            **trigger_info["trigger_data"],
            **config,
            "description": f"Anima {config[CONF_TYPE].replace('_', ' ')}",
            "event": event,
        }
        hass.async_run_hass_job(job, {"trigger": trigger}, event.context)

    return hass.bus.async_listen(event_type, fired)
