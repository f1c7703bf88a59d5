"""Earcons: short tones and chimes that cost nothing, made here with numpy.

The cheapest voice tier: a confirmation can be a chime instead of "Turned on the kitchen
light", and a satellite can chirp when it starts listening without asking any provider. Each
earcon is a short score of notes (a frequency or a glide, a few harmonics, a bell-like decay),
rendered as 16-bit mono PCM at 22050 Hz, the format Home Assistant's Wyoming TTS path plays, and
wrapped as WAV when a file is wanted.

Every note starts and ends with a raised-cosine ramp, so an earcon starts and ends at silence
(no click), and each is normalised to a fixed peak below full scale. Rendering is deterministic:
the same name gives the same bytes every time (and is cached).

One source of truth: this file is also the satellite's `anima_satellite.earcons` (a symbolic link
in `satellite/anima_satellite/`), so a chirp on a satellite and a chime sent by Home Assistant are
the same sound. It therefore imports only the standard library and numpy and keeps to Python 3.11
syntax (the satellite's floor).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cache
import io
import wave

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 22050
SAMPLE_WIDTH = 2  # bytes: 16-bit
CHANNELS = 1
_FULL_SCALE = 32767
_ATTACK = 0.004  # seconds of raised-cosine fade in per note
_RELEASE = 0.02  # seconds of raised-cosine fade out per note


class Earcon(StrEnum):
    """The earcons there are."""

    CONFIRM = "confirm"  # an action was done as asked: two quick rising notes
    DONE = "done"  # something longer finished: a rising arpeggio
    ERROR = "error"  # something failed: two low falling notes, hollow (odd harmonics)
    NOTIFY = "notify"  # something to look at: a two-tone "ding-dong"
    ALERT = "alert"  # needs attention now: four loud alternating beeps
    LISTENING = "listening"  # the microphone is open: a rising chirp
    THINKING = "thinking"  # working on it: a soft rising triad


@dataclass(frozen=True)
class Note:
    """One note of an earcon's score."""

    start: float  # seconds from the earcon's start
    duration: float  # seconds
    frequency: float  # Hz (at the start, for a glide)
    end_frequency: float | None = None  # Hz at the end: a linear glide
    gain: float = 1.0
    #: Amplitudes of the harmonics 1, 2, 3...: timbre.
    partials: tuple[float, ...] = (1.0, 0.25, 0.08)
    #: Exponential decay per second (0: flat, like a beep; ~8: a bell).
    decay: float = 0.0


@dataclass(frozen=True)
class Score:
    """An earcon: notes and the peak level it is normalised to (fraction of full scale)."""

    notes: tuple[Note, ...]
    peak: float = 0.5


_HOLLOW = (1.0, 0.0, 0.33, 0.0, 0.2)  # odd harmonics only: a square-ish, "wrong" timbre
_BRIGHT = (1.0, 0.45, 0.25, 0.12)

SCORES: dict[Earcon, Score] = {
    Earcon.CONFIRM: Score(
        (Note(0.0, 0.09, 783.99, decay=10), Note(0.08, 0.14, 1046.50, decay=10)),
        peak=0.5,
    ),
    Earcon.DONE: Score(
        (
            Note(0.0, 0.12, 523.25, decay=8),
            Note(0.07, 0.12, 659.25, decay=8),
            Note(0.14, 0.12, 783.99, decay=8),
            Note(0.21, 0.26, 1046.50, decay=6),
        ),
        peak=0.5,
    ),
    Earcon.ERROR: Score(
        (
            Note(0.0, 0.14, 329.63, partials=_HOLLOW, decay=4),
            Note(0.16, 0.24, 261.63, partials=_HOLLOW, decay=4),
        ),
        peak=0.5,
    ),
    Earcon.NOTIFY: Score(
        (Note(0.0, 0.40, 880.00, decay=7), Note(0.18, 0.48, 698.46, decay=6)),
        peak=0.5,
    ),
    Earcon.ALERT: Score(
        (
            Note(0.00, 0.11, 880.00, partials=_BRIGHT),
            Note(0.13, 0.11, 1174.66, partials=_BRIGHT),
            Note(0.26, 0.11, 880.00, partials=_BRIGHT),
            Note(0.39, 0.11, 1174.66, partials=_BRIGHT),
        ),
        peak=0.8,
    ),
    Earcon.LISTENING: Score(
        (Note(0.0, 0.16, 660.0, end_frequency=1320.0, partials=(1.0, 0.15)),),
        peak=0.45,
    ),
    Earcon.THINKING: Score(
        (
            Note(0.0, 0.25, 392.00, decay=6, partials=(1.0, 0.1)),
            Note(0.1, 0.25, 493.88, decay=6, partials=(1.0, 0.1)),
            Note(0.2, 0.25, 587.33, decay=6, partials=(1.0, 0.1)),
        ),
        peak=0.3,
    ),
}


def _ramp(length: int) -> npt.NDArray[np.float64]:
    """Raised-cosine ramp from 0 to 1 over `length` samples, both ends included."""
    if length <= 1:
        return np.zeros(max(length, 0))
    return 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, length))


def _render_note(note: Note, rate: int) -> npt.NDArray[np.float64]:
    count = max(2, round(note.duration * rate))
    t = np.arange(count, dtype=np.float64) / rate
    end = note.frequency if note.end_frequency is None else note.end_frequency
    # Phase of a linear glide: 2π ∫ f(t) dt with f going from `frequency` to `end`.
    phase = 2 * np.pi * (note.frequency * t + (end - note.frequency) * t * t / (2 * note.duration))
    wave_ = np.zeros(count)
    for harmonic, amplitude in enumerate(note.partials, start=1):
        if amplitude and max(note.frequency, end) * harmonic < rate / 2:
            wave_ += amplitude * np.sin(harmonic * phase)
    envelope = np.exp(-note.decay * t) * note.gain
    attack = min(count, max(2, round(_ATTACK * rate)))
    release = min(count, max(2, round(_RELEASE * rate)))
    envelope[:attack] *= _ramp(attack)
    envelope[count - release :] *= _ramp(release)[::-1]
    result: npt.NDArray[np.float64] = wave_ * envelope
    return result


def render(score: Score, rate: int = SAMPLE_RATE) -> npt.NDArray[np.float64]:
    """Render a score as floats in [-peak, peak], starting and ending at 0."""
    length = max(
        round(note.start * rate) + max(2, round(note.duration * rate)) for note in score.notes
    )
    mix = np.zeros(length)
    for note in score.notes:
        samples = _render_note(note, rate)
        offset = round(note.start * rate)
        mix[offset : offset + len(samples)] += samples
    top = float(np.max(np.abs(mix)))
    if top > 0:
        mix *= score.peak / top
    return mix


def to_pcm(samples: npt.NDArray[np.float64]) -> bytes:
    """Floats in [-1, 1] as 16-bit little-endian PCM."""
    clipped = np.clip(np.round(samples * _FULL_SCALE), -_FULL_SCALE, _FULL_SCALE)
    return clipped.astype("<i2").tobytes()


def pcm_to_wav(
    pcm: bytes, rate: int = SAMPLE_RATE, width: int = SAMPLE_WIDTH, channels: int = CHANNELS
) -> bytes:
    """Wrap raw PCM in a WAV (RIFF) header."""
    with io.BytesIO() as buffer:
        with wave.open(buffer, "wb") as writer:
            writer.setnchannels(channels)
            writer.setsampwidth(width)
            writer.setframerate(rate)
            writer.writeframes(pcm)
        return buffer.getvalue()


def _earcon(name: Earcon | str) -> Earcon:
    try:
        return Earcon(name)
    except ValueError:
        known = ", ".join(earcon.value for earcon in Earcon)
        raise ValueError(f"Unknown earcon {name!r} (known: {known})") from None


@cache
def _pcm(earcon: Earcon) -> bytes:
    return to_pcm(render(SCORES[earcon]))


def earcon_pcm(name: Earcon | str) -> bytes:
    """Return the earcon as 16-bit mono PCM at 22050 Hz; `ValueError` for an unknown name."""
    return _pcm(_earcon(name))


def earcon_wav(name: Earcon | str) -> bytes:
    """Return the earcon as a WAV file (16-bit mono, 22050 Hz)."""
    return pcm_to_wav(earcon_pcm(name))


def earcon_seconds(name: Earcon | str) -> float:
    """How long the earcon plays."""
    return len(earcon_pcm(name)) / (SAMPLE_RATE * SAMPLE_WIDTH * CHANNELS)
