"""Write the Anima earcons: short 16 kHz, 16-bit mono WAV tones built into the firmware.

Run from anywhere with any Python 3 (standard library only); the output is byte-for-byte
reproducible, so the committed files can always be regenerated and compared.
"""

from __future__ import annotations

import math
from pathlib import Path
import struct
import wave

RATE = 16000
HERE = Path(__file__).resolve().parent

# name -> list of (frequency Hz or 0 for silence, duration s); each note decays like a soft chime.
EARCONS: dict[str, list[tuple[float, float]]] = {
    "wake": [(659.25, 0.08), (987.77, 0.12)],  # rising E5 -> B5: "I'm listening"
    "done": [(987.77, 0.07), (1318.51, 0.14)],  # B5 -> E6: "got it"
    "error": [(392.00, 0.14), (0, 0.03), (293.66, 0.22)],  # falling G4 -> D4
    "notify": [(523.25, 0.10), (659.25, 0.10), (783.99, 0.22)],  # C5 E5 G5 chime
    "timer": [(880.0, 0.12), (0, 0.08), (880.0, 0.12), (0, 0.08), (880.0, 0.12)],
}


def _note(freq: float, seconds: float) -> list[float]:
    count = int(RATE * seconds)
    if freq == 0:
        return [0.0] * count
    fade = int(RATE * 0.004)
    samples = []
    for i in range(count):
        t = i / RATE
        envelope = math.exp(-4.0 * t / seconds)  # soft decay
        envelope *= min(1.0, i / fade, (count - i) / fade)  # no clicks
        tone = math.sin(2 * math.pi * freq * t) + 0.25 * math.sin(4 * math.pi * freq * t)
        samples.append(0.45 * envelope * tone / 1.25)
    return samples


def render(notes: list[tuple[float, float]]) -> bytes:
    """Return the 16-bit little-endian samples of `notes`."""
    samples = [s for freq, seconds in notes for s in _note(freq, seconds)]
    return b"".join(struct.pack("<h", round(s * 32767)) for s in samples)


def main() -> None:
    """Write every earcon next to this script."""
    for name, notes in EARCONS.items():
        with wave.open(str(HERE / f"{name}.wav"), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(RATE)
            out.writeframes(render(notes))


if __name__ == "__main__":
    main()
