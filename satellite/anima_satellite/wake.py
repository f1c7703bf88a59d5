"""A local wake word: a microWakeWord model run by `pymicro-wakeword` (the `wake` extra).

The package needs a compiled TensorFlow Lite library, published for x86_64 and aarch64 Linux;
where it is missing (riscv64, say) the satellite wakes on Home Assistant instead.

Python >= 3.11 (Debian 12 boards): no newer syntax here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wyoming.info import Attribution, WakeModel, WakeProgram

from . import __version__


class WakeWordUnavailableError(RuntimeError):
    """The wake word cannot run here: the extra is missing or the model is unknown."""


@dataclass
class LocalWakeWord:
    """Listens for one wake word in 16 kHz 16-bit mono audio."""

    name: str  # the model's id, e.g. okay_nabu: what `detection` events carry
    phrase: str  # what is said, e.g. "Okay Nabu"
    _detector: Any
    _features: Any

    @classmethod
    def load(cls, model: str) -> LocalWakeWord:
        """Load a built-in model by name, or a model's JSON config file by path."""
        try:
            from pymicro_wakeword import (  # noqa: PLC0415 - an optional extra
                MicroWakeWord,
                MicroWakeWordFeatures,
                Model,
            )
        except ImportError as err:  # also when its native library cannot load
            raise WakeWordUnavailableError(
                f"A local wake word needs pymicro-wakeword ({err}): "
                'pip install "anima-satellite[wake]"'
            ) from err
        builtin = [known.value for known in Model]
        if model in builtin:
            detector = MicroWakeWord.from_builtin(Model(model))
        elif Path(model).is_file():
            detector = MicroWakeWord.from_config(Path(model))
        else:
            known = ", ".join(builtin)
            raise WakeWordUnavailableError(
                f"Unknown wake word model {model!r}: give one of {known} or a model's .json file"
            )
        return cls(detector.id, detector.wake_word, detector, MicroWakeWordFeatures())

    def heard(self, audio: bytes) -> bool:
        """Feed audio; True once the wake word was said (then it listens afresh)."""
        for features in self._features.process_streaming(audio):
            if self._detector.process_streaming(features):
                self.reset()
                return True
        return False

    def reset(self) -> None:
        """Forget the audio heard so far."""
        self._detector.reset()
        self._features.reset()

    def program(self, attribution: Attribution) -> WakeProgram:
        """Describe the wake word to Home Assistant (it names the detection after the phrase)."""
        return WakeProgram(
            name="pymicro-wakeword",
            attribution=attribution,
            installed=True,
            description="microWakeWord on the satellite",
            version=__version__,
            models=[
                WakeModel(
                    name=self.name,
                    attribution=attribution,
                    installed=True,
                    description=self.phrase,
                    version=None,
                    languages=[],
                    phrase=self.phrase,
                )
            ],
        )
