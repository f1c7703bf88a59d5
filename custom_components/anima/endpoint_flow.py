"""The hub's endpoint subentry flow: bind an adopted device (ESPHome, Wyoming) as an endpoint.

Only devices that can be endpoints are offered (a satellite, a camera or a speaker on them), and
an endpoint needs an agent or a voice profile. Its satellite, camera and speaker entities and its
area are found on the device (and can be chosen by hand); the endpoint also has a persona, a
budget and how it uses its camera.
"""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import SubentryFlowResult
from homeassistant.const import CONF_NAME
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.selector import (
    BooleanSelector,
    EntitySelector,
    EntitySelectorConfig,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
import probatio as vol

from .const import DOMAIN
from .core.endpoints import (
    AGENT,
    AREA,
    CAMERA,
    DAILY_BUDGET,
    DEVICE,
    MONTHLY_BUDGET,
    PERSONA,
    SATELLITE,
    SERVICE,
    SERVICE_KEY,
    SHARE_CAMERA,
    SPEAKER,
    VISION_MODE,
    VOICE,
    Permission,
    VisionMode,
)
from .core.profiles import PROFILE_AGENT, PROFILE_ENDPOINT as ENDPOINT, PROFILE_VOICE
from .options_flow import AMOUNT
from .protocol import INVALID_KEY, UNAUTHORIZED, UNVERIFIED, EndpointError
from .providers.endpoint import EndpointClient
from .runtime.discovery import endpoint_service_of
from .subentry_flow import SubentryFormFlow

#: Entity domains an endpoint takes from its device, by the key they are stored under.
DEVICE_ENTITIES = {SATELLITE: "assist_satellite", CAMERA: "camera", SPEAKER: "media_player"}


def endpoint_devices(hass: HomeAssistant, bound: set[str]) -> dict[str, str]:
    """Return the devices that can be endpoints (id -> name), sorted by name.

    Each has a satellite, a camera or a speaker, is not one of Anima's own (a connection, a
    profile, an endpoint) and is not in `bound` (the devices that are endpoints already).
    """
    devices = dr.async_get(hass)
    anima = {entry.entry_id for entry in hass.config_entries.async_entries(DOMAIN)}
    found: dict[str, str] = {}
    for entity in er.async_get(hass).entities.values():
        if entity.domain not in DEVICE_ENTITIES.values() or entity.device_id in bound:
            continue
        device = devices.async_get(entity.device_id) if entity.device_id else None
        if device is None or device.disabled or device.config_entry_id in anima:
            continue
        found[device.id] = device.name_by_user or device.name or device.id
    return dict(sorted(found.items(), key=lambda item: item[1].casefold()))


def endpoint_data(hass: HomeAssistant, device: dr.BaseDeviceEntry) -> dict[str, str]:
    """Return what binding `device` finds on it: entities, area and announced service."""
    found: dict[str, str] = {DEVICE: device.id}
    if service := endpoint_service_of(hass, device):
        found[SERVICE] = service
    for entity in er.async_entries_for_device(er.async_get(hass), device.id):
        for key, domain in DEVICE_ENTITIES.items():
            if entity.domain == domain and key not in found:
                found[key] = entity.entity_id
    if device.area_id:
        found[AREA] = device.area_id
    return found


#: What an endpoint service's refusal tells the user to do, by its code.
PAIRING_ERRORS = {
    UNAUTHORIZED: "service_key_rejected",
    INVALID_KEY: "invalid_service_key",
    UNVERIFIED: "service_unverified",
}


async def _pairing_error(data: dict[str, Any], typed: dict[str, Any]) -> str | None:
    """Check the endpoint service takes the key; return the form error if it does not.

    A service the user typed needs its key now; one found over zeroconf may be paired later
    (a repair issue asks for the key meanwhile).
    """
    if not data.get(SERVICE):
        return None
    if not data.get(SERVICE_KEY):
        return "service_key_required" if typed.get(SERVICE) else None
    try:
        await EndpointClient.at(str(data[SERVICE]), key=str(data[SERVICE_KEY])).describe()
    except EndpointError as err:
        return PAIRING_ERRORS.get(err.code, "service_unreachable")
    except ValueError:  # not host:port
        return "service_unreachable"
    return None


class EndpointFlow(SubentryFormFlow):
    """Bind a device as an endpoint, or change an endpoint (the device stays bound)."""

    async_step_needs_profile = SubentryFormFlow.async_check_again
    async_step_needs_device = SubentryFormFlow.async_check_again

    async def _async_form(
        self, user_input: dict[str, Any] | None, current: dict[str, Any]
    ) -> SubentryFlowResult:
        new = self.adding
        bound = {
            str(sub.data.get(DEVICE))
            for sub in self._get_entry().subentries.values()
            if sub.subentry_type == ENDPOINT
        }
        devices = endpoint_devices(self.hass, bound) if new else {}
        if not (self._profiles(PROFILE_AGENT) or self._profiles(PROFILE_VOICE)):
            return self.async_show_first("needs_profile")
        if new and not devices:
            return self.async_show_first("needs_device")
        errors: dict[str, str] = {}
        if user_input is not None:
            data = {**current, **user_input}
            device = dr.async_get(self.hass).async_get(str(data.get(DEVICE, "")))
            if device is None:
                errors[DEVICE] = "device_not_found"
            elif new and device.id in bound:
                errors[DEVICE] = "already_bound"
            elif new and device.id not in devices:  # a client may send any id
                errors[DEVICE] = "not_endpoint_device"
            elif not (data.get(AGENT) or data.get(VOICE)):
                errors["base"] = "agent_or_voice_required"
            else:
                for key, value in endpoint_data(self.hass, device).items():
                    if not data.get(key):
                        data[key] = value
                if error := await _pairing_error(data, typed=user_input):
                    errors[SERVICE_KEY] = error
                else:
                    name = str(data.pop(CONF_NAME, "") or device.name_by_user or device.name)
                    return self.async_save(name, data)
        return self.async_show_form(
            step_id=self.step_id,
            data_schema=self.add_suggested_values_to_schema(
                self._schema(devices), {**current, **(user_input or {})}
            ),
            errors=errors,
        )

    def _profiles(self, kind: str) -> list[SelectOptionDict]:
        return [
            SelectOptionDict(value=sub.subentry_id, label=sub.title)
            for sub in self._get_entry().subentries.values()
            if sub.subentry_type == kind
        ]

    def _schema(self, devices: dict[str, str]) -> vol.Schema:
        """Return the form, with `devices` to choose from when adding (a change keeps it)."""
        money = AMOUNT
        schema: dict[Any, Any] = {}
        if devices:
            options = [SelectOptionDict(value=id_, label=name) for id_, name in devices.items()]
            schema[vol.Required(DEVICE)] = SelectSelector(
                SelectSelectorConfig(options=options, mode=SelectSelectorMode.DROPDOWN)
            )
        schema |= {
            vol.Optional(CONF_NAME): str,
            vol.Optional(AGENT): SelectSelector(
                SelectSelectorConfig(options=self._profiles(PROFILE_AGENT))
            ),
            vol.Optional(VOICE): SelectSelector(
                SelectSelectorConfig(options=self._profiles(PROFILE_VOICE))
            ),
            vol.Optional(PERSONA): TextSelector(TextSelectorConfig(multiline=True)),
            vol.Optional(VISION_MODE, default=VisionMode.ON_DEMAND.value): SelectSelector(
                SelectSelectorConfig(options=list(VisionMode), translation_key="vision_mode")
            ),
            vol.Optional(SHARE_CAMERA, default=False): BooleanSelector(),
            **{vol.Optional(p.value, default=True): BooleanSelector() for p in Permission},
            vol.Optional(DAILY_BUDGET): money,
            vol.Optional(MONTHLY_BUDGET): money,
        }
        for key, domain in DEVICE_ENTITIES.items():
            schema[vol.Optional(key)] = EntitySelector(EntitySelectorConfig(domain=domain))
        schema[vol.Optional(SERVICE)] = str
        schema[vol.Optional(SERVICE_KEY)] = TextSelector(
            TextSelectorConfig(type=TextSelectorType.PASSWORD)
        )
        return vol.Schema(schema)
