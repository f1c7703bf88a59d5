"""A speech gate: a board that wakes on Home Assistant sends it speech, not the microphone all day.

    anima-satellite ... --speech-gate

Boards with no local wake word (RISC-V: no TensorFlow Lite there) let Home Assistant's wake word
engine listen. Ungated, that is the microphone streamed to the hub around the clock. The gate
lets audio through only while someone (or something) makes sound clearly above the room's
background, with the second before it (the start of a wake word comes before the gate can know)
and a short tail after it; Home Assistant's engine then hears every wake word it would have
heard, and nothing of a quiet room. Between Home Assistant's wake word detection and its
transcript the gate stays open, so the request and its closing silence reach the hub whole.

How it decides, per 20 ms frame: the frame's energy (pre-emphasised, so that the rumble and
slow swells of a room's background weigh little) against a noise floor that falls at once to
quieter frames and rises slowly (a fan switched on is background after a few seconds). A few
frames well above the floor open the gate. No model: numpy on 20 ms frames, a few microseconds of
CPU per frame, fine under emulation and on the smallest boards.

Python >= 3.11 (Debian 12 boards): no newer syntax here.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
import logging

import numpy as np

_LOGGER = logging.getLogger(__name__)
RATE, WIDTH = 16000, 2  # 16 kHz 16-bit mono, what the satellite's microphone gives
FRAME_SAMPLES = 320  # 20 ms
FRAME_S = FRAME_SAMPLES / RATE
FULL_SCALE = 32768.0
PRE_EMPHASIS = 0.95


@dataclass
class GateSettings:
    """When the gate opens and how much it sends around speech."""

    #: Audio sent from before the gate opened (a wake word starts before it is loud enough).
    pre_roll_s: float = 1.0
    #: How long the gate stays open after the last loud frame (pauses between words).
    hangover_s: float = 1.5
    #: How far above the noise floor a frame must be to count as sound (dB).
    margin_db: float = 10.0
    #: Frames quieter than this never count, whatever the floor (dBFS; a silent room).
    quietest_dbfs: float = -60.0
    #: Loud frames among the last `onset_window` frames that open the gate.
    onset_frames: int = 3
    onset_window: int = 5
    #: How fast the noise floor follows louder background (dB per second).
    floor_rise_db_per_s: float = 3.0


@dataclass
class SpeechGate:
    """Feed it microphone chunks; it returns the chunks to send to Home Assistant."""

    settings: GateSettings = field(default_factory=GateSettings)
    #: Audio seconds fed and sent (what left the board), for logs and measurements.
    heard_s: float = 0.0
    sent_s: float = 0.0
    _floor_db: float | None = None
    _recent: deque[bool] = field(default_factory=deque)
    _open_for_s: float = 0.0  # hangover left
    _held_for_s: float = 0.0  # Home Assistant listens to a request: everything passes
    _carry: bytes = b""  # samples of an unfinished frame
    _last: float = 0.0  # the sample before the next frame (for the pre-emphasis)
    _pre_roll: deque[bytes] = field(default_factory=deque)
    _pre_roll_s: float = 0.0

    @property
    def is_open(self) -> bool:
        """Whether audio passes now."""
        return self._open_for_s > 0 or self._held_for_s > 0

    def feed(self, audio: bytes) -> list[bytes]:
        """Take one chunk of 16 kHz 16-bit mono audio; return what to send now, oldest first."""
        seconds = len(audio) / (RATE * WIDTH)
        self.heard_s += seconds
        was_open = self.is_open
        sound = self._frames_sound(audio)
        if sound:
            self._open_for_s = self.settings.hangover_s
        elif self._open_for_s > 0:
            self._open_for_s = max(0.0, self._open_for_s - seconds)
        if self._held_for_s > 0:
            self._held_for_s = max(0.0, self._held_for_s - seconds)
        if not self.is_open:
            if was_open:
                _LOGGER.debug(
                    "Speech gate closed (%.0f%% of %.0f s sent)", self.share, self.heard_s
                )
            self._remember(audio, seconds)
            return []
        if was_open:
            self.sent_s += seconds
            return [audio]
        _LOGGER.debug("Speech gate open")
        sent = [*self._pre_roll, audio]
        self.sent_s += self._pre_roll_s + seconds
        self._pre_roll.clear()
        self._pre_roll_s = 0.0
        return sent

    @property
    def share(self) -> float:
        """Percent of the audio heard that was sent."""
        return 100.0 * self.sent_s / self.heard_s if self.heard_s else 0.0

    def hold(self, seconds: float) -> None:
        """Pass everything for up to `seconds` of audio (Home Assistant heard the wake word)."""
        self._held_for_s = seconds

    def release(self) -> None:
        """Home Assistant has the request (its transcript came): back to passing sound only."""
        self._held_for_s = 0.0

    def _remember(self, audio: bytes, seconds: float) -> None:
        self._pre_roll.append(audio)
        self._pre_roll_s += seconds
        while self._pre_roll and self._pre_roll_s - self._seconds(self._pre_roll[0]) >= (
            self.settings.pre_roll_s
        ):
            self._pre_roll_s -= self._seconds(self._pre_roll.popleft())

    @staticmethod
    def _seconds(audio: bytes) -> float:
        return len(audio) / (RATE * WIDTH)

    def _frames_sound(self, audio: bytes) -> bool:
        """Update the floor with the chunk's whole frames; True if the onset rule fired."""
        data = self._carry + audio
        whole = len(data) // (FRAME_SAMPLES * WIDTH) * FRAME_SAMPLES * WIDTH
        self._carry = data[whole:]
        if not whole:
            return False
        samples = np.frombuffer(data[:whole], dtype="<i2").astype(np.float64) / FULL_SCALE
        # Pre-emphasis (a first-order high-pass): rumble, hum and the slow swells of a room's
        # background carry most of its energy below speech; without it they open the gate.
        emphasised = samples - PRE_EMPHASIS * np.concatenate(([self._last], samples[:-1]))
        self._last = float(samples[-1])
        power = np.mean(emphasised.reshape(-1, FRAME_SAMPLES) ** 2, axis=1)
        energies = 10.0 * np.log10(power + 1e-12)
        rise = self.settings.floor_rise_db_per_s * FRAME_S
        window, needed = self.settings.onset_window, self.settings.onset_frames
        fired = False
        for energy in energies.tolist():
            floor = energy if self._floor_db is None else min(energy, self._floor_db + rise)
            self._floor_db = floor
            loud = energy > max(floor + self.settings.margin_db, self.settings.quietest_dbfs)
            self._recent.append(loud)
            if len(self._recent) > window:
                self._recent.popleft()
            fired = fired or sum(self._recent) >= needed
        return fired
