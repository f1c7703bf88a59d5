"""Fix flows of Anima's repair issues: binding a newly adopted satellite as an endpoint."""

from __future__ import annotations

from types import MappingProxyType

from homeassistant.components.repairs import ConfirmRepairFlow, RepairsFlow, RepairsFlowResult
from homeassistant.config_entries import ConfigSubentry
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr

from .core.endpoints import AGENT, DEVICE, VOICE
from .core.profiles import PROFILE_AGENT, PROFILE_ENDPOINT, PROFILE_VOICE
from .endpoint_flow import endpoint_data
from .runtime.hub import hub_entry


class BindSatelliteFlow(ConfirmRepairFlow):
    """Confirm, then bind the satellite's device as an endpoint with what is found on it."""

    def __init__(self, device_id: str) -> None:
        """Remember which device the offer is about."""
        super().__init__()
        self._device_id = device_id

    async def async_step_confirm(
        self, user_input: dict[str, str] | None = None
    ) -> RepairsFlowResult:
        """Bind the device once the user confirms, with the hub's first agent and voice."""
        if user_input is None:
            return await super().async_step_confirm()
        hub = hub_entry(self.hass)
        device = dr.async_get(self.hass).async_get(self._device_id)
        if hub is None or device is None:
            return self.async_abort(reason="satellite_gone")
        chosen: dict[str, str] = {}
        for subentry in hub.subentries.values():
            for key, kind in ((AGENT, PROFILE_AGENT), (VOICE, PROFILE_VOICE)):
                if subentry.subentry_type == kind:
                    chosen.setdefault(key, subentry.subentry_id)
        if not chosen:  # an endpoint uses an agent or a voice
            return self.async_abort(reason="needs_profile")
        self.hass.config_entries.async_add_subentry(
            hub,
            ConfigSubentry(
                data=MappingProxyType(endpoint_data(self.hass, device) | chosen),
                subentry_type=PROFILE_ENDPOINT,
                title=device.name_by_user or device.name or device.id,
                unique_id=None,
            ),
        )
        return self.async_create_entry(data={})


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: dict[str, str | int | float | None] | None
) -> RepairsFlow:
    """Return the fix flow of an issue: satellite offers, the only fixable ones, name a device."""
    return BindSatelliteFlow(str(data.get(DEVICE, "")) if data else "")
