"""One answer per room: which endpoint answers when several hear the same wake word.

Pure: no Home Assistant imports. The rule (docs/coordination.md): endpoints of one area whose
satellites start listening within `WAKE_WINDOW` seconds of each other heard one utterance; the
first to start answers, the others end without a word. Endpoints without an area count as one
room. Home Assistant itself already drops a second wake-up of the *same wake word phrase*
within 2 s, house-wide, before it is heard; this covers the rest: satellites that report no
phrase, or different ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

#: Wake-ups this close together are one utterance (Home Assistant's own cooldown is 2 s).
WAKE_WINDOW: Final = 2.0
#: Wake-ups older than this are forgotten.
KEEP_S: Final = 60.0
MAX_KEPT: Final = 64


class WakeLog:
    """When each endpoint's satellite last started listening."""

    def __init__(self, window: float = WAKE_WINDOW) -> None:
        """Treat wake-ups `window` seconds apart as one."""
        self.window = window
        self._started: dict[str, float] = {}

    def heard(self, device_id: str, at: float) -> None:
        """Note that the satellite of `device_id` started listening at `at` (monotonic s)."""
        self._started = {
            device: when for device, when in self._started.items() if at - when <= KEEP_S
        }
        self._started[device_id] = at
        while len(self._started) > MAX_KEPT:
            del self._started[next(iter(self._started))]

    def answers(self, device_id: str | None, areas: Mapping[str, str | None]) -> bool:
        """Whether the turn of `device_id` is the one its room answers.

        `areas`: the area of each endpoint's device (None: none). Devices that are no endpoint,
        or whose satellite was not heard starting, always answer.
        """
        if device_id is None or device_id not in areas:
            return True
        mine = self._started.get(device_id)
        if mine is None:
            return True
        room = areas[device_id]
        return not any(
            other != device_id
            and other in areas
            and areas[other] == room
            and abs(when - mine) <= self.window
            and (when, other) < (mine, device_id)
            for other, when in self._started.items()
        )
