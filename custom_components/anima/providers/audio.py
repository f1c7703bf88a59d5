"""PCM helpers: WAV wrapping (whole or streamed) and conversion between PCM layouts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Callable
import io
import struct
import wave

import numpy as np

from .base import PCM, AudioChunk, AudioFormat

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
    """Return 16-bit PCM of `source` layout as a whole in `target` layout."""
    if source == target:
        return pcm
    converter = PcmConverter(target)
    return converter.convert(pcm, source) + converter.flush()


class PcmConverter:
    """Converts a stream of 16-bit PCM chunks to one layout (rate, sample width, channels).

    Mixed to mono, resampled by linear interpolation (plenty for speech) carried across chunk
    boundaries, so a stream's sample count matches its duration within one sample, then spread
    to the target's channels and sample width. A source of another layout starts anew; `flush`
    ends a stream (a sentence) with the samples its last chunk still owes.
    """

    def __init__(self, target: AudioFormat) -> None:
        """Convert to `target` (1 to 4 bytes a sample, any channel count)."""
        if target.codec != PCM or not 1 <= target.width <= 4 or target.channels < 1:
            raise ValueError(f"Cannot convert to {target}")
        self.target = target
        self._source: AudioFormat | None = None
        self._step = 1.0  # source samples per target sample
        self._next = 0  # index of the next target sample
        self._tail = np.zeros(0)  # the last source sample, which the next chunk interpolates from
        self._consumed = 0  # index of the source sample the tail holds

    def convert(self, pcm: bytes, source: AudioFormat) -> bytes:
        """Return a chunk of `source` PCM in the target layout."""
        if source == self.target and self._source in (None, source):
            return pcm
        if source.width != 2 or source.codec != PCM:
            raise ValueError(f"Cannot convert {source} to {self.target}: 16-bit PCM only")
        if source != self._source:
            self._start(source)
        samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % (2 * source.channels)], dtype="<i2")
        mono = samples.reshape(-1, source.channels).mean(axis=1)
        if source.rate == self.target.rate:
            return self._encode(mono)
        data = np.concatenate([self._tail, mono])
        if not len(data):
            return b""
        start = self._consumed - len(self._tail) + 1  # source index of data[0]
        last = start + len(data) - 1
        return self._encode(self._resample(data, start, int(last / self._step) + 1, last))

    def flush(self) -> bytes:
        """End the stream: the samples between the last one given and where it would end."""
        if self._source is None or self._source.rate == self.target.rate or not len(self._tail):
            self._source = None
            return b""
        start = self._consumed
        end = int(np.ceil((start + 1) / self._step))  # target samples before the stream's end
        out = self._resample(self._tail, start, end, start)
        self._source = None
        return self._encode(out)

    def _start(self, source: AudioFormat) -> None:
        self._source, self._step = source, source.rate / self.target.rate
        self._next, self._tail, self._consumed = 0, np.zeros(0), -1

    def _resample(self, data: np.ndarray, start: int, stop: int, last: int) -> np.ndarray:
        """Target samples `_next` up to `stop` from source samples `data` starting at `start`."""
        indices = np.arange(self._next, max(self._next, stop))
        out: np.ndarray = np.interp(indices * self._step - start, np.arange(len(data)), data)
        self._next = max(self._next, stop)
        self._tail, self._consumed = data[-1:], last
        return out

    def _encode(self, mono: np.ndarray) -> bytes:
        """Mono samples (16-bit scale) in the target's channels and sample width."""
        samples = np.clip(np.round(mono), -32768, 32767).astype("<i4")
        if self.target.channels > 1:
            samples = np.repeat(samples, self.target.channels)
        match self.target.width:
            case 1:  # 8-bit PCM is unsigned
                return bytes((samples // 256 + 128).astype(np.uint8).tobytes())
            case 2:
                return bytes(samples.astype("<i2").tobytes())
            case 3:
                wide = (samples << 16).astype("<i4").view(np.uint8).reshape(-1, 4)
                return bytes(wide[:, 1:].tobytes())  # the top three bytes of each sample
            case _:
                return bytes((samples << 16).astype("<i4").tobytes())


def pcm_cutter(audio_format: AudioFormat) -> Callable[[bytes], AudioChunk | None]:
    """Return what cuts streamed PCM into chunks of whole samples (None until one is whole)."""
    frame, rest = audio_format.width * audio_format.channels, b""

    def cut(data: bytes) -> AudioChunk | None:
        nonlocal rest
        data = rest + data
        whole = len(data) - len(data) % frame
        rest = data[whole:]
        return AudioChunk(data[:whole], audio_format) if whole else None

    return cut


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
