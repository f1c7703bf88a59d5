"""Device actions on an endpoint's device: announce a message there, or ask a question there.

Announce says the message in the tier its class gets there. Ask says the question and listens
without the wake word; the endpoint's agent hears the answer with the question before it (as
`assist_satellite.start_conversation` does), so "Shall I close the blinds?" can be answered.
"""

from __future__ import annotations

from typing import Any, Final

from homeassistant.const import CONF_DEVICE_ID, CONF_DOMAIN, CONF_TYPE
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import config_validation as cv, selector
from homeassistant.helpers.translation import async_get_translations
from homeassistant.helpers.typing import ConfigType
import probatio as vol

from .const import DOMAIN
from .core.speech.tiers import MessageClass
from .runtime.data import AnimaData
from .runtime.devices import anima_device_kind, endpoint_of_device
from .runtime.errors import translated

ANNOUNCE: Final = "announce"
ASK: Final = "ask"
MESSAGE: Final = "message"
MESSAGE_CLASS: Final = "message_class"
QUESTION: Final = "question"
ACTIONS: Final = (ANNOUNCE, ASK)
CLASSES: Final = [message_class.value for message_class in MessageClass]

#: The text each action cannot do without.
NEEDS: Final = {ANNOUNCE: MESSAGE, ASK: QUESTION}


def _with_its_text(config: ConfigType) -> ConfigType:
    """Refuse an announcement without its message, a question without its question."""
    if (needed := NEEDS[config[CONF_TYPE]]) not in config:
        raise vol.Invalid("required key not provided", path=[needed])
    return config


ACTION_SCHEMA = vol.All(
    cv.DEVICE_ACTION_BASE_SCHEMA.extend(
        {
            vol.Required(CONF_TYPE): vol.In(ACTIONS),
            vol.Optional(MESSAGE): vol.All(cv.string, vol.Length(min=1, max=1000)),
            vol.Optional(MESSAGE_CLASS, default=MessageClass.NOTIFICATION.value): vol.In(CLASSES),
            vol.Optional(QUESTION): vol.All(cv.string, vol.Length(min=1, max=1000)),
        }
    ),
    _with_its_text,
)


async def async_get_actions(hass: HomeAssistant, device_id: str) -> list[dict[str, str]]:
    """List the actions of an endpoint's device."""
    if anima_device_kind(hass, device_id) != "endpoint":
        return []
    return [{CONF_DOMAIN: DOMAIN, CONF_DEVICE_ID: device_id, CONF_TYPE: kind} for kind in ACTIONS]


async def async_get_action_capabilities(
    hass: HomeAssistant, config: ConfigType
) -> dict[str, vol.Schema]:
    """Return what each action asks for: the message and its class, or the question."""
    if config[CONF_TYPE] == ANNOUNCE:
        fields = {
            vol.Required(MESSAGE): cv.string,
            vol.Optional(MESSAGE_CLASS, default=MessageClass.NOTIFICATION.value): (
                selector.SelectSelector(
                    selector.SelectSelectorConfig(options=await _class_options(hass))
                )
            ),
        }
    else:
        fields = {vol.Required(QUESTION): cv.string}
    return {"extra_fields": vol.Schema(fields)}


async def _class_options(hass: HomeAssistant) -> list[selector.SelectOptionDict]:
    """Return the message classes named in the house's language.

    The automation editor does not translate a device action's options itself.
    """
    names = await async_get_translations(hass, hass.config.language, "selector", {DOMAIN})
    key = f"component.{DOMAIN}.selector.{MESSAGE_CLASS}.options."
    return [selector.SelectOptionDict(value=c, label=names.get(key + c, c)) for c in CLASSES]


async def async_call_action_from_config(
    hass: HomeAssistant,
    config: ConfigType,
    variables: dict[str, Any],
    context: Context | None,
) -> None:
    """Announce or ask on the endpoint."""
    endpoint = endpoint_of_device(hass, config[CONF_DEVICE_ID])
    if endpoint is None:
        raise translated(HomeAssistantError, "not_an_endpoint", device=config[CONF_DEVICE_ID])
    coordination = AnimaData.of(hass).coordination
    if config[CONF_TYPE] == ANNOUNCE:
        message_class = MessageClass(config[MESSAGE_CLASS])
        await coordination.async_announce([endpoint], config[MESSAGE], message_class)
    else:
        await coordination.async_handoff(endpoint, message=config[QUESTION])
