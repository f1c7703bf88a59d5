"""The shape of the hub's subentry flows: one form, to add (user) and to change (reconfigure)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

from homeassistant.config_entries import SOURCE_USER, ConfigSubentryFlow, SubentryFlowResult
from homeassistant.const import CONF_NAME


class SubentryFormFlow(ConfigSubentryFlow, ABC):
    """Add a subentry or change one through the same form (`_async_form`)."""

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Add one."""
        return await self._async_form(user_input, {})

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change one; its entities keep their ids."""
        subentry = self._get_reconfigure_subentry()
        return await self._async_form(user_input, {**subentry.data, CONF_NAME: subentry.title})

    @property
    def adding(self) -> bool:
        """Whether the flow adds a subentry (else it changes one)."""
        return self.source == SOURCE_USER

    @property
    def step_id(self) -> str:
        """The step the form belongs to."""
        return "user" if self.adding else "reconfigure"

    def async_show_first(self, step_id: str) -> SubentryFlowResult:
        """Say what must be added before this form can be filled in, as a titled step.

        Not an abort: Home Assistant's frontend shows a subentry flow's abort untitled. Its
        button (`async_step_<step_id>`, see `async_check_again`) checks again.
        """
        return self.async_show_form(step_id=step_id)

    async def async_check_again(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Show the form if what it needs is there now (else the same step again)."""
        if self.adding:
            return await self.async_step_user()
        return await self.async_step_reconfigure()

    def async_save(self, name: str, data: Mapping[str, Any]) -> SubentryFlowResult:
        """Create the subentry, or update the one being changed (no reload)."""
        if self.adding:
            return self.async_create_entry(title=name, data=data)
        return self.async_update_and_abort(
            self._get_entry(), self._get_reconfigure_subentry(), title=name, data=data
        )

    @abstractmethod
    async def _async_form(
        self, user_input: dict[str, Any] | None, current: dict[str, Any]
    ) -> SubentryFlowResult:
        """Show the form with `current` values, or check and save what the user entered."""
