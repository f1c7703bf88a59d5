"""Voice policy selects (message class -> tier), for automations such as quiet hours.

One per voice profile, and one per endpoint: an endpoint follows its voice's policy unless its
own select picks another. The choice is stored in the profile or endpoint, so it survives
restarts and applies to the next message.
"""

from __future__ import annotations

from homeassistant.components.select import SelectEntity
from homeassistant.config_entries import ConfigEntry, ConfigSubentry
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .core.profiles import POLICY, PROFILE_ENDPOINT, PROFILE_VOICE
from .core.speech.tiers import POLICY_PRESETS, VoicePolicy
from .entity import AnimaEntity, async_add_per_subentry
from .runtime.hub import HubConfigEntry

PARALLEL_UPDATES = 0
CUSTOM = "custom"  # a voice's policy set class by class in its form, matching no preset
FOLLOW_VOICE = "voice"  # an endpoint without a policy of its own


async def async_setup_entry(
    hass: HomeAssistant,
    entry: HubConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the policy select of each voice profile and each endpoint."""
    async_add_per_subentry(entry, async_add_entities, PROFILE_VOICE, VoicePolicySelect)
    async_add_per_subentry(entry, async_add_entities, PROFILE_ENDPOINT, EndpointPolicySelect)


class VoicePolicySelect(SelectEntity, AnimaEntity):
    """Which tier each class of message gets: standard, quiet, economy or full."""

    _attr_translation_key = "policy"  # on the voice's device: "Anima Voice Policy"
    _attr_entity_category = EntityCategory.CONFIG
    #: The option of a subentry with no policy stored.
    unset = CUSTOM

    def __init__(self, entry: ConfigEntry, subentry: ConfigSubentry) -> None:
        """Attach the select to the subentry's device."""
        super().__init__(subentry.subentry_id, "voice_policy")
        self._entry = entry
        self._subentry_id = subentry.subentry_id
        self._attr_options = [*POLICY_PRESETS, self.unset]

    async def async_added_to_hass(self) -> None:
        """Follow changes made in the subentry's form too."""

        async def updated(*_: object) -> None:
            if self._subentry_id in self._entry.subentries:  # else it goes with the reload
                self.async_write_ha_state()

        self.async_on_remove(self._entry.add_update_listener(updated))

    @property
    def current_option(self) -> str:
        """The preset the stored policy equals, else the unset option."""
        stored = self._entry.subentries[self._subentry_id].data.get(POLICY)
        if not stored:
            return self.unset if self.unset == FOLLOW_VOICE else "standard"
        policy = VoicePolicy.from_dict(stored)
        return next((name for name, p in POLICY_PRESETS.items() if p == policy), CUSTOM)

    async def async_select_option(self, option: str) -> None:
        """Store the preset's policy; the voice uses it from the next message."""
        if option == CUSTOM:
            return  # custom is set class by class in the voice's form
        subentry = self._entry.subentries[self._subentry_id]
        data = dict(subentry.data)
        if option == FOLLOW_VOICE:
            data.pop(POLICY, None)
        else:
            data[POLICY] = POLICY_PRESETS[option].to_dict()
        self.hass.config_entries.async_update_subentry(self._entry, subentry, data=data)
        self.async_write_ha_state()


class EndpointPolicySelect(VoicePolicySelect):
    """An endpoint's own policy, or `voice`: the policy of the voice that speaks for it."""

    _attr_translation_key = "voice_policy"  # on the endpoint's device: "Kitchen Voice policy"
    unset = FOLLOW_VOICE
