"""Write Anima's earcons as the WAV files the firmware plays from flash (16 kHz, 16-bit mono).

The sounds are the hub's and the Linux satellite's
(`custom_components/anima/core/speech/earcons.py`, the one source of truth), rendered at the
rate the firmware's media player takes without a decoder. Byte-for-byte reproducible, so the
committed files can be regenerated and compared:

    .venv/bin/python firmware/esphome/sounds/make_earcons.py
"""

from __future__ import annotations

from functools import cache
import importlib.util
from pathlib import Path
import sys
from types import ModuleType

RATE = 16000
HERE = Path(__file__).resolve().parent
SOURCE = HERE.parents[2] / "custom_components" / "anima" / "core" / "speech" / "earcons.py"


@cache
def _earcons() -> ModuleType:
    """Load the earcons module by path (numpy only; no Home Assistant needed)."""
    spec = importlib.util.spec_from_file_location("anima_earcons", SOURCE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def wav_of(name: str) -> bytes:
    """Return the firmware's WAV file of one earcon."""
    earcons = _earcons()
    score = earcons.SCORES[earcons.Earcon(name)]
    return bytes(earcons.pcm_to_wav(earcons.to_pcm(earcons.render(score, RATE)), RATE))


def names() -> list[str]:
    """Return the earcon names, in the order they are declared."""
    return [earcon.value for earcon in _earcons().Earcon]


def main() -> None:
    """Write every earcon next to this script."""
    for name in names():
        (HERE / f"{name}.wav").write_bytes(wav_of(name))


if __name__ == "__main__":
    main()
