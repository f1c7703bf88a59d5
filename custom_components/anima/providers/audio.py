"""PCM helpers: WAV wrapping (whole or streamed) and conversion between PCM layouts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator
import io
import struct
import wave

import numpy as np

from .base import AudioFormat

_UNKNOWN_SIZE = 0xFFFFFFFF  # RIFF and data sizes of a stream whose length is not known yet
#: The RMS of 16-bit samples below which 30 ms hold no voice (about -55 dBFS: a quiet room's
#: noise or a muted microphone; speech at the microphone is 20-30 dB louder).
SILENT_RMS = 58
_FRAME_SECONDS = 0.03


def holds_sound(pcm: bytes, audio_format: AudioFormat) -> bool:
    """Whether any 30 ms of 16-bit PCM is louder than silence (Whisper hears words in silence)."""
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float32)
    frame = max(1, int(audio_format.rate * audio_format.channels * _FRAME_SECONDS))
    padded = np.pad(samples, (0, -len(samples) % frame)).reshape(-1, frame)
    return bool(padded.size) and float(np.sqrt((padded**2).mean(axis=1)).max()) >= SILENT_RMS


def wav_bytes(pcm: bytes, audio_format: AudioFormat) -> bytes:
    """Return `pcm` as a WAV file."""
    with io.BytesIO() as buffer:
        with wave.open(buffer, "wb") as writer:
            writer.setnchannels(audio_format.channels)
            writer.setsampwidth(audio_format.width)
            writer.setframerate(audio_format.rate)
            writer.writeframes(pcm)
        return buffer.getvalue()


def wav_stream_header(audio_format: AudioFormat) -> bytes:
    """Return a WAV header for PCM that follows as a stream of unknown length."""
    byte_rate = audio_format.rate * audio_format.width * audio_format.channels
    return (
        struct.pack("<4sI4s", b"RIFF", _UNKNOWN_SIZE, b"WAVE")
        + struct.pack(
            "<4sIHHIIHH",
            b"fmt ",
            16,
            1,  # PCM
            audio_format.channels,
            audio_format.rate,
            byte_rate,
            audio_format.width * audio_format.channels,
            audio_format.width * 8,
        )
        + struct.pack("<4sI", b"data", _UNKNOWN_SIZE)
    )


def convert(pcm: bytes, source: AudioFormat, target: AudioFormat) -> bytes:
    """Return 16-bit PCM of `source` layout in `target` layout (mixed to mono, resampled).

    Linear interpolation is plenty for speech and keeps a chain whose providers speak at
    different rates (Piper 22.05 kHz, OpenAI 24 kHz) in one continuous stream.
    """
    if source == target:
        return pcm
    if source.width != 2 or target.width != 2 or target.channels != 1:
        raise ValueError(f"Cannot convert {source} to {target}: 16-bit, to mono only")
    samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % (2 * source.channels)], dtype="<i2")
    mono = samples.reshape(-1, source.channels).mean(axis=1)
    if source.rate != target.rate and len(mono):
        count = round(len(mono) * target.rate / source.rate)
        positions = np.arange(count) * (source.rate / target.rate)
        mono = np.interp(positions, np.arange(len(mono)), mono)
    return bytes(np.round(mono).astype("<i2").tobytes())


class ReplayableStream:
    """An audio stream that each fallback attempt can read from the start.

    The first reader pulls from the source; what it read is kept, so a provider that fails
    half-way through an utterance can be replaced by the next one without losing the audio.
    """

    def __init__(self, source: AsyncIterable[bytes]) -> None:
        """Wrap `source`, which is read at most once."""
        self._source = aiter(source)
        self._chunks: list[bytes] = []
        self._done = False
        self._lock = asyncio.Lock()

    @property
    def kept(self) -> bytes:
        """Return the audio read so far."""
        return b"".join(self._chunks)

    async def read(self) -> AsyncIterator[bytes]:
        """Yield every chunk from the first, then what the source still brings."""
        index = 0
        while True:
            if index < len(self._chunks):
                yield self._chunks[index]
                index += 1
                continue
            if self._done:
                return
            async with self._lock:
                if index == len(self._chunks) and not self._done:
                    try:
                        self._chunks.append(await anext(self._source))
                    except StopAsyncIteration:
                        self._done = True
