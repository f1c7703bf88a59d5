"""MP3 streams cut into whole frames: real MP3 from ffmpeg, cut anywhere, comes out whole."""

from __future__ import annotations

import asyncio
import random

import pytest

from custom_components.anima.providers.mp3 import MAX_FRAME_BYTES, Mp3Splitter
from tests.fakes.openai_server import SPEECH_RATE, tone
from tests.fakes.speech_formats import encode


def _mp3(seconds: float) -> bytes:
    return asyncio.run(encode(tone(seconds), "mp3", SPEECH_RATE))


def test_a_stream_cut_anywhere_comes_out_as_its_frames_with_their_duration() -> None:
    mp3 = _mp3(1.5)
    splitter, frames, seconds = Mp3Splitter(), b"", 0.0
    cuts = random.Random(7)
    start = 0
    while start < len(mp3):
        size = cuts.randint(1, 3000)
        if (got := splitter.feed(mp3[start : start + size])) is not None:
            frames += got.data
            seconds += got.seconds
            assert (got.rate, got.channels) == (SPEECH_RATE, 1)
        start += size
    assert splitter.pending == 0
    assert mp3.endswith(frames)  # every frame, in order; only a leading tag is left out
    # 1.5 s of speech, plus the encoder's priming frames (a few at 24 ms each)
    assert 1.5 <= seconds <= 1.5 + 0.2


def test_an_id3_tag_before_the_frames_is_skipped() -> None:
    mp3 = _mp3(0.3)  # ffmpeg writes a tag of its own first
    first = Mp3Splitter().feed(mp3)
    assert first is not None
    assert not mp3.startswith(first.data)
    tag = b"ID3\x04\x00\x00" + bytes([0, 0, 0, 20]) + b"T" * 20
    again = Mp3Splitter().feed(tag + first.data)
    assert again is not None
    assert again.data == first.data


@pytest.mark.parametrize(
    "stream",
    [b"RIFF\x00\x00\x00\x00WAVEfmt " + bytes(64), bytes(100), b"\xff\xfb" + bytes(10)],
    ids=["wav", "silence", "bad-header"],
)
def test_what_is_not_mp3_is_refused(stream: bytes) -> None:
    with pytest.raises(ValueError, match="MP3"):
        Mp3Splitter().feed(stream)


def test_a_tag_larger_than_allowed_is_refused() -> None:
    size = MAX_FRAME_BYTES + 1
    synchsafe = bytes((size >> shift) & 0x7F for shift in (21, 14, 7, 0))
    with pytest.raises(ValueError, match="ID3"):
        Mp3Splitter().feed(b"ID3\x04\x00\x00" + synchsafe)


def test_a_stream_arriving_a_byte_at_a_time_waits_for_the_tag_and_each_frame() -> None:
    """A slow service: nothing comes out until a frame is whole, then exactly the frames."""
    mp3 = _mp3(0.3)  # it starts with ffmpeg's ID3 tag
    whole = Mp3Splitter().feed(mp3)
    assert whole is not None
    splitter, frames, seconds, nothing = Mp3Splitter(), b"", 0.0, 0
    for byte in mp3:
        if (got := splitter.feed(bytes([byte]))) is None:
            nothing += 1
            continue
        frames += got.data
        seconds += got.seconds
    assert (frames, seconds) == (whole.data, pytest.approx(whole.seconds))
    assert nothing > len(mp3) - 100  # a frame came out only when its last byte had
