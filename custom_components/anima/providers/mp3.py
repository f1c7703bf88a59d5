"""MP3 streams cut into whole frames, each with its duration: what a speech service streams.

An OpenAI-compatible voice asked for MP3 streams it in pieces of any size. Anima passes them on
to Home Assistant untouched (no conversion), but it books seconds spoken and must keep whole
frames together, so the stream is cut at frame boundaries read from the frame headers (MPEG
audio layer III, versions 1, 2 and 2.5). A leading ID3v2 tag is skipped. Bounded: anything
that is not a frame where one should start, or a tag larger than `MAX_FRAME_BYTES`, raises
ValueError; a frame's header sets its size (at most 1,441 bytes), so little is ever held back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from .base import MP3, AudioChunk, AudioFormat, ProviderResponseError

MAX_FRAME_BYTES: Final = 64 * 1024
_ID3_HEADER = 10
_FRAME_HEADER = 4
#: Layer III bitrates (kbit/s) by bitrate index: MPEG-1, and MPEG-2 / 2.5.
_BITRATES: Final = {
    1: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
#: Sample rates by version bits (3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5) and rate index.
_RATES: Final = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


@dataclass(frozen=True, slots=True)
class Frames:
    """Whole MP3 frames: their bytes, how long they play, their sample rate and channels."""

    data: bytes
    seconds: float
    rate: int
    channels: int


class Mp3Splitter:
    """Feed it an MP3 stream piece by piece; it hands back the complete frames so far."""

    def __init__(self) -> None:
        """Start before the stream's first byte."""
        self._buffer = bytearray()
        self._started = False  # a leading ID3 tag was looked for

    def feed(self, data: bytes) -> Frames | None:
        """Add a piece; return the frames it completed (None when none is complete yet)."""
        self._buffer += data
        if not self._started and not self._skip_tag():
            return None
        position, seconds, layout = 0, 0.0, None
        while len(self._buffer) - position >= _FRAME_HEADER:
            size, samples, rate, channels = _frame(self._buffer, position)
            if len(self._buffer) - position < size:
                break
            position += size
            seconds += samples / rate
            layout = layout or (rate, channels)
        if layout is None:
            return None
        frames = bytes(self._buffer[:position])
        del self._buffer[:position]
        return Frames(frames, seconds, *layout)

    @property
    def pending(self) -> int:
        """Bytes of an unfinished frame held back."""
        return len(self._buffer)

    def _skip_tag(self) -> bool:
        """Drop a leading ID3v2 tag; False while more bytes are needed to know."""
        if len(self._buffer) < _ID3_HEADER:
            return False
        if self._buffer[:3] == b"ID3":
            size = 0
            for byte in self._buffer[6:10]:  # synchsafe: 7 bits a byte
                size = size << 7 | (byte & 0x7F)
            size += _ID3_HEADER + (_ID3_HEADER if self._buffer[5] & 0x10 else 0)  # footer
            if size > MAX_FRAME_BYTES:
                raise ValueError("An ID3 tag larger than allowed before MP3 audio")
            if len(self._buffer) < size:
                return False
            del self._buffer[:size]
        self._started = True
        return True


def mp3_cutter() -> Callable[[bytes], AudioChunk | None]:
    """Return what cuts a streamed MP3 answer into chunks of whole frames (None until one is)."""
    splitter = Mp3Splitter()

    def cut(data: bytes) -> AudioChunk | None:
        try:
            frames = splitter.feed(data)
        except ValueError as err:
            raise ProviderResponseError(f"The speech answer is not MP3: {err}") from None
        if frames is None:
            return None
        audio_format = AudioFormat(frames.rate, 2, frames.channels, MP3)
        return AudioChunk(frames.data, audio_format, frames.seconds)

    return cut


def _frame(buffer: bytearray, at: int) -> tuple[int, int, int, int]:
    """Read the frame header at `at`: (frame bytes, samples, sample rate, channels)."""
    b1, b2, b3 = buffer[at + 1], buffer[at + 2], buffer[at + 3]
    version, layer = (b1 >> 3) & 3, (b1 >> 1) & 3
    bitrate_index, rate_index = b2 >> 4, (b2 >> 2) & 3
    if (
        buffer[at] != 0xFF
        or b1 & 0xE0 != 0xE0
        or version == 1
        or layer != 1
        or bitrate_index in (0, 15)
        or rate_index == 3
    ):
        raise ValueError("Not an MP3 layer III frame")
    mpeg1 = version == 3
    bitrate = _BITRATES[1 if mpeg1 else 2][bitrate_index] * 1000
    rate = _RATES[version][rate_index]
    samples = 1152 if mpeg1 else 576
    size = samples // 8 * bitrate // rate + ((b2 >> 1) & 1)
    return size, samples, rate, 1 if b3 >> 6 == 3 else 2
