"""Earcons: format, length, no clicks, below full scale, deterministic, distinct, shared."""

from __future__ import annotations

import ast
import io
from itertools import combinations
from pathlib import Path
import wave

import numpy as np
import pytest

from custom_components.anima.core.speech import earcons
from custom_components.anima.core.speech.earcons import (
    CHANNELS,
    SAMPLE_RATE,
    SAMPLE_WIDTH,
    SCORES,
    Earcon,
    earcon_pcm,
    earcon_seconds,
    earcon_wav,
    pcm_to_wav,
    render,
    to_pcm,
)

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = {"confirm", "done", "error", "notify", "alert", "listening", "thinking"}


def _samples(name: Earcon) -> np.ndarray:
    return np.frombuffer(earcon_pcm(name), dtype="<i2").astype(np.int32)


def test_the_required_earcons_exist() -> None:
    assert {earcon.value for earcon in Earcon} >= REQUIRED
    assert set(SCORES) == set(Earcon)


@pytest.mark.parametrize("name", list(Earcon))
def test_earcon_is_short_clean_and_below_full_scale(name: Earcon) -> None:
    samples = _samples(name)
    seconds = len(samples) / SAMPLE_RATE
    assert 0.1 <= seconds < 1.0
    assert earcon_seconds(name) == pytest.approx(seconds)
    peak = int(np.max(np.abs(samples)))
    assert 0.2 * 32767 < peak < 32767  # audible, never clipped
    # Fades: the ends are silent and the first/last 0.5 ms stay far below the peak (no click).
    edge = int(0.0005 * SAMPLE_RATE)
    assert abs(samples[0]) <= 1
    assert abs(samples[-1]) <= 1
    assert np.max(np.abs(samples[:edge])) < 0.05 * peak
    assert np.max(np.abs(samples[-edge:])) < 0.05 * peak
    assert abs(float(np.mean(samples))) < 0.01 * peak  # no DC offset


@pytest.mark.parametrize("name", list(Earcon))
def test_earcon_wav_is_16_bit_mono_22050(name: Earcon) -> None:
    with wave.open(io.BytesIO(earcon_wav(name))) as reader:
        assert reader.getframerate() == SAMPLE_RATE == 22050
        assert reader.getsampwidth() == SAMPLE_WIDTH == 2
        assert reader.getnchannels() == CHANNELS == 1
        assert reader.readframes(reader.getnframes()) == earcon_pcm(name)


def test_earcons_are_deterministic() -> None:
    for name in Earcon:
        again = to_pcm(render(SCORES[name]))  # bypasses the cache
        assert again == earcon_pcm(name)
        assert earcon_pcm(name.value) == earcon_pcm(name)


def test_distinct_earcons_sound_different() -> None:
    rendered = {name: _samples(name) for name in Earcon}
    for first, second in combinations(Earcon, 2):
        a, b = rendered[first], rendered[second]
        assert len(a) != len(b) or not np.array_equal(a, b), (first, second)
        # Different in pitch content, not only in length: compare normalised spectra.
        size = 8192
        spec_a = np.abs(np.fft.rfft(a[:size], size))
        spec_b = np.abs(np.fft.rfft(b[:size], size))
        spec_a /= np.linalg.norm(spec_a)
        spec_b /= np.linalg.norm(spec_b)
        assert float(np.dot(spec_a, spec_b)) < 0.9, (first, second)


def test_unknown_earcon_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="Unknown earcon 'beep'"):
        earcon_pcm("beep")


def test_pcm_to_wav_wraps_any_pcm() -> None:
    wav = pcm_to_wav(b"\x01\x00" * 10, rate=16000)
    with wave.open(io.BytesIO(wav)) as reader:
        assert (reader.getframerate(), reader.getnframes()) == (16000, 10)


def test_satellite_uses_the_same_file() -> None:
    """One source of truth: the satellite's module is a link to this one, same bytes out."""
    import anima_satellite.earcons as satellite_earcons  # noqa: PLC0415

    link = ROOT / "satellite" / "anima_satellite" / "earcons.py"
    assert link.resolve() == Path(earcons.__file__).resolve()
    for name in Earcon:
        assert satellite_earcons.earcon_pcm(name.value) == earcon_pcm(name)


def test_earcons_module_imports_only_stdlib_and_numpy() -> None:
    """It runs on satellites (no Home Assistant, no package-relative imports)."""
    tree = ast.parse(Path(earcons.__file__).read_text(encoding="utf-8"))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative import in earcons.py"
            roots.add((node.module or "").split(".")[0])
    assert roots <= {"__future__", "dataclasses", "enum", "functools", "io", "wave", "numpy"}
