"""A select per voice profile: its voice policy (message class -> tier), for automations.

Switching to `quiet` at night and back to `standard` in the morning is one action each; the
choice is stored in the profile, so it survives restarts and the voice uses it at once.
"""

from __future__ import annotations

from homeassistant.components.select import SelectEntity
from homeassistant.config_entries import ConfigEntry, ConfigSubentry
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import DOMAIN
from .entity import async_add_per_subentry
from .profiles import POLICY, PROFILE_VOICE, policy_of
from .speech.tiers import POLICY_PRESETS

PARALLEL_UPDATES = 0
CUSTOM = "custom"  # a policy set in the profile's form that matches no preset


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the policy select of each voice profile."""
    async_add_per_subentry(entry, async_add_entities, PROFILE_VOICE, VoicePolicySelect)


class VoicePolicySelect(SelectEntity):
    """Which tier each class of message gets: standard, quiet, economy or full."""

    _attr_has_entity_name = True
    _attr_translation_key = "voice_policy"
    _attr_entity_category = EntityCategory.CONFIG

    def __init__(self, entry: ConfigEntry, subentry: ConfigSubentry) -> None:
        """Attach the select to the voice profile's device."""
        self._entry = entry
        self._subentry_id = subentry.subentry_id
        self._attr_unique_id = f"{subentry.subentry_id}-voice_policy"
        self._attr_device_info = dr.DeviceInfo(identifiers={(DOMAIN, subentry.subentry_id)})
        self._attr_options = [*POLICY_PRESETS, CUSTOM]

    async def async_added_to_hass(self) -> None:
        """Follow changes made in the profile's form too."""

        async def updated(*_: object) -> None:
            self.async_write_ha_state()

        self.async_on_remove(self._entry.add_update_listener(updated))

    @property
    def current_option(self) -> str:
        """The preset the profile's policy equals, else custom."""
        policy = policy_of(self._entry.subentries[self._subentry_id].data)
        return next((name for name, p in POLICY_PRESETS.items() if p == policy), CUSTOM)

    async def async_select_option(self, option: str) -> None:
        """Store the preset's policy in the profile; the voice uses it from the next message."""
        if option == CUSTOM:
            return  # custom is set class by class in the profile's form
        subentry = self._entry.subentries[self._subentry_id]
        data = {**subentry.data, POLICY: POLICY_PRESETS[option].to_dict()}
        self.hass.config_entries.async_update_subentry(self._entry, subentry, data=data)
        self.async_write_ha_state()
