"""What the agents are saying, for the voice that speaks it.

Pure: no Home Assistant imports. Home Assistant hands a voice only text (or a text stream): not
the class of the message nor the device it is for. The agents note both here:

- a finished turn's answer, by its text: short answers (confirmations among them) reach the
  voice whole, not streamed, so the text finds its class and endpoint;
- the turns in progress, by device: a streamed answer starts while its turn runs, so when
  exactly one turn runs, the stream is that turn's.

Bounded, and notes older than a minute are forgotten.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
import time
from typing import Final

from .speech.tiers import MessageClass

TTL: Final = 60.0


@dataclass(frozen=True, slots=True)
class Note:
    """What a voice should know about a message: its class and the endpoint device."""

    message_class: MessageClass | None
    device_id: str | None


class TurnNotes:
    """Recent answers by text, and the turns in progress by device."""

    def __init__(self, size: int = 64, ttl: float = TTL) -> None:
        """Keep at most `size` answers for `ttl` seconds."""
        self._size, self._ttl = size, ttl
        self._said: OrderedDict[str, tuple[Note, float]] = OrderedDict()
        self._active: dict[str | None, float] = {}

    def begin(self, device_id: str | None) -> None:
        """Note that a turn from `device_id` (None: no device) started."""
        self._active[device_id] = time.monotonic()

    def end(self, device_id: str | None, text: str, message_class: MessageClass) -> None:
        """Note that the turn ended with `text`, which a voice is about to speak."""
        self._active.pop(device_id, None)
        key = text.strip()
        self._said[key] = (Note(message_class, device_id), time.monotonic())
        self._said.move_to_end(key)
        while len(self._said) > self._size:
            self._said.popitem(last=False)

    def note_for(self, text: str) -> Note | None:
        """Return what an agent noted for `text`, if it said it within the last minute."""
        found = self._said.get(text.strip())
        if found is None or time.monotonic() - found[1] > self._ttl:
            return None
        return found[0]

    def just_answered(self, within: float = 5.0) -> bool:
        """Whether an agent finished a turn in the last `within` seconds.

        Then a stream starting now carries that whole answer (the pipeline streams even a short
        reply), so it can be read to its end and found by its text.
        """
        now = time.monotonic()
        return any(now - at <= within for _, at in self._said.values())

    def streaming(self) -> Note | None:
        """Return the turn a stream belongs to, when exactly one recent turn runs."""
        now = time.monotonic()
        running = [device for device, start in self._active.items() if now - start < self._ttl]
        if len(running) != 1:
            return None
        return Note(None, running[0])
