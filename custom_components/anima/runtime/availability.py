"""One log line when a provider stops being used, one when it answers again.

Every failed call is logged at debug level only: a provider that is down would otherwise fill
the log with a line per turn (Home Assistant's `log-when-unavailable` rule).
"""

from __future__ import annotations

from homeassistant.core import HomeAssistant

from ..const import LOGGER
from ..core.health import Attempt, HealthState, Outcome
from ..core.routing import Router

#: The states in which the router skips a provider (a rejected key has its own line and a
#: re-authentication flow).
_SKIPPED = frozenset({HealthState.OPEN, HealthState.COOLDOWN})


class AvailabilityLog:
    """Logs a provider's changes between used and skipped, from the router's attempts."""

    def __init__(self, hass: HomeAssistant, router: Router) -> None:
        self._hass = hass
        self._router = router
        self._skipped: set[str] = set()

    def on_attempt(self, attempt: Attempt) -> None:
        """Note the attempt; log when its provider went or came back."""
        pid = attempt.provider_id
        if attempt.outcome is Outcome.OK:
            if pid in self._skipped:
                self._skipped.discard(pid)
                LOGGER.info("%s answers again", self._title(pid))
            return
        state = self._router.state(pid)
        if state in _SKIPPED and pid not in self._skipped:
            self._skipped.add(pid)
            LOGGER.warning(
                "%s is unavailable (%s after %s); other links of its chains answer meanwhile",
                self._title(pid),
                state.value.replace("_", " "),
                attempt.error or attempt.outcome.value,
            )

    def _title(self, provider_id: str) -> str:
        entry = self._hass.config_entries.async_get_entry(provider_id)
        return provider_id if entry is None else entry.title
