"""Subentry flows of the hub: add and reconfigure agent, listener and voice profiles.

One form per profile: its name, its chain (providers and models, best first: the order in
which they are chosen) and its options. Reconfiguring saves without a reload: the entities read
the new chain at their next call.
"""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import SubentryFlowResult
from homeassistant.const import CONF_NAME
from homeassistant.helpers import llm
from homeassistant.helpers.selector import (
    BooleanSelector,
    LanguageSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TemplateSelector,
    TextSelector,
    TextSelectorConfig,
)
import probatio as vol

from .core.profiles import (
    AI_TASK,
    BREVITY,
    CHAIN,
    CHAIN_CAPABILITY,
    DEFAULT_BREVITY,
    DEFAULT_MAX_TOKENS,
    DEFAULT_TEMPERATURE,
    LANGUAGE,
    LLM_HASS_API,
    MAX_TOKENS,
    POLICY,
    PROFILE_AGENT,
    PROFILE_VOICE,
    PROMPT,
    TEMPERATURE,
    TERSE_SENTENCES,
    TIER_CHAINS,
    Link,
    all_links,
    chain_of,
    link_choices,
    policy_of,
)
from .core.speech.tiers import TIERS, MessageClass, PolicyError, Tier, VoicePolicy
from .runtime.connections import connection_entries, connection_voices, loaded_connection
from .subentry_flow import SubentryFormFlow

DEFAULT_NAMES = {"agent": "Assistant", "listener": "Listener", "voice": "Voice"}


class ProfileFlow(SubentryFormFlow):
    """Add or change one profile of the hub: its name, chain and options."""

    async_step_needs_connection = SubentryFormFlow.async_check_again

    async def _async_form(
        self, user_input: dict[str, Any] | None, current: dict[str, Any]
    ) -> SubentryFlowResult:
        voice = self._subentry_type == PROFILE_VOICE
        chain_keys = tuple(TIER_CHAINS.values()) if voice else (CHAIN,)
        choices = self._chain_choices(all_links(current))
        if not choices:
            return self.async_show_first("needs_connection")
        errors: dict[str, str] = {}
        if user_input is not None:
            data = dict(user_input)
            name = str(data.pop(CONF_NAME)).strip()
            for key in chain_keys:  # the selector took only values it offered
                data[key] = [Link.from_option(v).as_data() for v in data.get(key) or []]
            if not data.get(CHAIN):
                errors[CHAIN] = "chain_required"
            if not name:
                errors[CONF_NAME] = "name_required"
            if voice:
                try:
                    chosen = {cls: data.pop(cls) for cls in MessageClass if cls in data}
                    data[POLICY] = VoicePolicy.from_dict(
                        policy_of(current).to_dict() | chosen  # classes not given keep theirs
                    ).to_dict()
                except PolicyError as err:
                    errors[err.key] = "alert_must_speak"
            if not errors:
                return self.async_save(name, data)
        suggested = {
            **current,
            **policy_of(current).to_dict(),
            **{key: [link.option() for link in chain_of(current, key)] for key in chain_keys},
            **(user_input or {}),
        }
        suggested.setdefault(CONF_NAME, DEFAULT_NAMES[self._subentry_type])
        return self.async_show_form(
            step_id=self.step_id,
            data_schema=self.add_suggested_values_to_schema(self._schema(choices), suggested),
            errors=errors,
        )

    def _chain_choices(self, current: tuple[Link, ...]) -> list[SelectOptionDict]:
        """Offer every link a loaded connection can serve, plus the profile's current ones."""
        capability = CHAIN_CAPABILITY[self._subentry_type]
        options: dict[str, str] = {}
        for entry in connection_entries(self.hass):
            connection = loaded_connection(self.hass, entry.entry_id)
            if connection is None:
                continue
            voices = tuple(connection_voices(self.hass, entry.entry_id))
            for link, label in link_choices(
                capability, entry.title, entry.entry_id, connection, voices
            ):
                options[link.option()] = label
        for link in current:  # keep links of connections that are down or gone choosable
            options.setdefault(link.option(), f"{link.option()} (unavailable)")
        return [SelectOptionDict(value=value, label=label) for value, label in options.items()]

    def _schema(self, choices: list[SelectOptionDict]) -> vol.Schema:
        schema: dict[Any, Any] = {
            vol.Required(CONF_NAME): str,
            vol.Required(CHAIN): SelectSelector(
                SelectSelectorConfig(
                    options=choices, multiple=True, mode=SelectSelectorMode.DROPDOWN
                )
            ),
        }
        if self._subentry_type == PROFILE_AGENT:
            apis = [
                SelectOptionDict(value=api.id, label=api.name)
                for api in llm.async_get_apis(self.hass)
            ]
            # A new agent has the Assist API (as Home Assistant's own agents); a changed one
            # keeps what it had.
            assist = (
                vol.Optional(LLM_HASS_API, default=[llm.LLM_API_ASSIST])
                if self.adding
                else vol.Optional(LLM_HASS_API)
            )
            schema |= {
                vol.Optional(PROMPT, default=llm.DEFAULT_INSTRUCTIONS_PROMPT): TemplateSelector(),
                vol.Optional(BREVITY, default=DEFAULT_BREVITY): TextSelector(
                    TextSelectorConfig(multiline=True)
                ),
                assist: SelectSelector(SelectSelectorConfig(options=apis, multiple=True)),
                vol.Optional(TEMPERATURE, default=DEFAULT_TEMPERATURE): NumberSelector(
                    NumberSelectorConfig(min=0, max=2, step=0.05, mode=NumberSelectorMode.SLIDER)
                ),
                vol.Optional(MAX_TOKENS, default=DEFAULT_MAX_TOKENS): NumberSelector(
                    NumberSelectorConfig(min=16, max=16000, step=1, mode=NumberSelectorMode.BOX)
                ),
                vol.Optional(AI_TASK, default=False): BooleanSelector(),
            }
        else:
            schema[vol.Optional(LANGUAGE)] = LanguageSelector()
        if self._subentry_type == PROFILE_VOICE:
            cheaper = SelectSelectorConfig(
                options=choices, multiple=True, mode=SelectSelectorMode.DROPDOWN
            )
            tiers = SelectSelectorConfig(options=list(TIERS), translation_key="tier")
            schema |= {vol.Optional(TIER_CHAINS[Tier.COMPACT]): SelectSelector(cheaper)}
            schema |= {vol.Optional(TIER_CHAINS[Tier.FORMANT]): SelectSelector(cheaper)}
            schema |= {vol.Optional(cls): SelectSelector(tiers) for cls in MessageClass}
            schema[vol.Optional(TERSE_SENTENCES)] = NumberSelector(
                NumberSelectorConfig(min=1, max=10, step=1, mode=NumberSelectorMode.BOX)
            )
        return vol.Schema(schema)
