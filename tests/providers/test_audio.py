"""PCM helpers: WAV framing, conversion between layouts, and replayable audio streams."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import io
import wave

import numpy as np
import pytest

from custom_components.anima.providers.audio import (
    SILENT_RMS,
    PcmConverter,
    ReplayableStream,
    convert,
    holds_sound,
    wav_bytes,
    wav_stream_header,
)
from custom_components.anima.providers.base import AudioFormat

PIPER = AudioFormat(rate=22050)
OPENAI = AudioFormat(rate=24000)


def _sine(seconds: float, audio_format: AudioFormat, frequency: float = 440.0) -> bytes:
    t = np.arange(int(seconds * audio_format.rate)) / audio_format.rate
    return (np.sin(2 * np.pi * frequency * t) * 10000).astype("<i2").tobytes()


def test_wav_bytes_is_a_wav_file_of_the_pcm() -> None:
    pcm = _sine(0.1, PIPER)
    with wave.open(io.BytesIO(wav_bytes(pcm, PIPER))) as reader:
        assert (reader.getframerate(), reader.getsampwidth(), reader.getnchannels()) == (
            22050,
            2,
            1,
        )
        assert reader.readframes(reader.getnframes()) == pcm


def test_stream_header_describes_the_format_and_an_open_length() -> None:
    header = wav_stream_header(OPENAI)
    assert len(header) == 44
    assert header[:4] == b"RIFF"
    assert header[8:12] == b"WAVE"
    assert int.from_bytes(header[24:28], "little") == 24000
    assert header[40:44] == b"\xff\xff\xff\xff"


def test_convert_resamples_keeping_duration_and_pitch() -> None:
    pcm = _sine(1.0, PIPER)
    out = np.frombuffer(convert(pcm, PIPER, OPENAI), dtype="<i2")
    assert len(out) == 24000
    spectrum = np.abs(np.fft.rfft(out))
    assert np.argmax(spectrum) == pytest.approx(440, abs=2)  # 1 s: bins are 1 Hz apart


def test_convert_mixes_stereo_down_and_leaves_equal_formats_alone() -> None:
    stereo = np.array([[1000, 3000], [-2000, 0]], dtype="<i2").tobytes()
    mono = convert(stereo, AudioFormat(rate=16000, channels=2), AudioFormat(rate=16000))
    assert np.frombuffer(mono, dtype="<i2").tolist() == [2000, -1000]
    pcm = _sine(0.01, PIPER)
    assert convert(pcm, PIPER, PIPER) is pcm
    with pytest.raises(ValueError, match="16-bit"):
        convert(pcm, AudioFormat(width=4), PIPER)


def test_a_stream_converted_chunk_by_chunk_keeps_its_length_and_sound() -> None:
    pcm = _sine(1.0, OPENAI)
    converter, out = PcmConverter(PIPER), b""
    for start in range(0, len(pcm), 4801 - 4801 % 2):  # odd sizes, as a provider streams
        out += converter.convert(pcm[start : start + 4800], OPENAI)
    out += converter.flush()
    samples = np.frombuffer(out, dtype="<i2")
    assert len(samples) == 22050
    whole = np.frombuffer(convert(pcm, OPENAI, PIPER), dtype="<i2")
    assert np.abs(samples.astype(int) - whole).max() <= 1  # no seams at the chunk boundaries
    assert np.argmax(np.abs(np.fft.rfft(samples))) == pytest.approx(440, abs=2)


@pytest.mark.parametrize(
    ("width", "expected"),
    [
        (1, [128, 128, 192, 192, 0, 0]),
        (2, [0, 0, 16384, 16384, -32768, -32768]),
        (3, [0, 0, 16384 << 8, 16384 << 8, -32768 << 8, -32768 << 8]),
        (4, [0, 0, 16384 << 16, 16384 << 16, -32768 << 16, -32768 << 16]),
    ],
)
def test_pcm_is_given_in_the_channels_and_sample_width_asked_for(
    width: int, expected: list[int]
) -> None:
    mono = np.array([0, 16384, -32768], dtype="<i2").tobytes()
    out = convert(mono, AudioFormat(rate=16000), AudioFormat(rate=16000, width=width, channels=2))
    if width == 3:
        padded = b"".join(
            out[i : i + 3] + (b"\xff" if out[i + 2] & 0x80 else b"\0")
            for i in range(0, len(out), 3)
        )
        values = np.frombuffer(padded, dtype="<i4").tolist()
    else:
        values = np.frombuffer(out, dtype={1: "u1", 2: "<i2", 4: "<i4"}[width]).tolist()
    assert values == expected


async def test_replayable_stream_gives_every_reader_the_whole_utterance() -> None:
    pulled: list[int] = []

    async def microphone() -> AsyncIterator[bytes]:
        for n in range(5):
            pulled.append(n)
            await asyncio.sleep(0)
            yield bytes([n])

    audio = ReplayableStream(microphone())
    first = audio.read()
    assert [await anext(first), await anext(first)] == [b"\x00", b"\x01"]  # then it fails
    assert b"".join([chunk async for chunk in audio.read()]) == bytes(range(5))
    assert b"".join([chunk async for chunk in audio.read()]) == bytes(range(5))
    assert pulled == list(range(5))  # the microphone was read once


MICROPHONE = AudioFormat(rate=16000)


def test_silence_and_a_quiet_rooms_noise_hold_no_sound_but_a_word_does() -> None:
    rng = np.random.default_rng(7)
    room = rng.normal(0, SILENT_RMS / 3, 16000 * 3).astype("<i2").tobytes()  # about -65 dBFS
    assert not holds_sound(bytes(16000 * 2 * 15), MICROPHONE)  # 15 s of a muted microphone
    assert not holds_sound(room, MICROPHONE)
    assert not holds_sound(b"", MICROPHONE)
    word = _sine(0.05, MICROPHONE)  # 50 ms as loud as speech, in 3 s of room noise
    assert holds_sound(room[:32000] + word + room[32000:], MICROPHONE)
    assert holds_sound(word[:7], MICROPHONE)  # an odd byte count is read, not refused
