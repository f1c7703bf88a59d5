"""Frames for vision models: checked, downscaled, re-encoded, deduplicated, and costed.

Pure domain logic: no Home Assistant imports (Pillow and numpy, which Home Assistant ships).

- `prepare_frame` decodes any image Pillow reads, refuses what is not one or is too big to be
  one frame (a clear `FrameError` a model can say out loud), scales it so its longer side fits
  the model's limit, and re-encodes it as JPEG: a 5 MP snapshot becomes ~60 KB.
- `ChangeFilter` keeps a frame only when it differs enough from the last kept one (mean absolute
  difference of small grey thumbnails), so "watch" sends the moments that matter.
- `estimate_image_tokens` says what an image will cost in input tokens, per provider family,
  for the ledger and for budgets.
- `looks_visual` is the cheap local check of eager mode: does the question ask about what a
  camera sees ("what do you see", "is the door open", "who is at the door")?
"""

from __future__ import annotations

from dataclasses import dataclass
import io
import math
import re
from typing import Final, Literal

import numpy as np
from PIL import Image, UnidentifiedImageError

#: More pixels than any camera frame has (a 48 MP phone photo is 8000 x 6000): a decompression
#: bomb or not a frame.
MAX_PIXELS: Final = 50_000_000
MAX_INPUT_BYTES: Final = 25_000_000

type Detail = Literal["low", "high", "auto"]


class FrameError(ValueError):
    """An image that cannot be sent; `code` says why, for the user and the model."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class VisionLimits:
    """What one model should get: its longest side in pixels, detail hint, JPEG quality."""

    max_side: int = 1024
    detail: Detail = "auto"
    quality: int = 80


DEFAULT_LIMITS: Final = VisionLimits()


@dataclass(frozen=True, slots=True)
class PreparedFrame:
    """A frame ready to send."""

    jpeg: bytes
    width: int
    height: int
    #: A small grey thumbnail, for change detection.
    thumbnail: np.ndarray


# Per-family limits: OpenAI's low detail sees 512 px at a flat 85 tokens (enough for "what do
# you see"), high detail bills 512 px tiles;
# Qwen-VL and Doubao bill per 28 px patch, so smaller frames cost less with little loss.
_LIMITS: Final[tuple[tuple[re.Pattern[str], VisionLimits], ...]] = (
    (re.compile(r"qwen|doubao|seed", re.I), VisionLimits(max_side=896, detail="auto")),
    (re.compile(r"gpt|o\d|openai", re.I), VisionLimits(max_side=512, detail="low")),
    (re.compile(r"llava|gemma|llama|minicpm|moondream", re.I), VisionLimits(max_side=672)),
)


def limits_for(model: str) -> VisionLimits:
    """Return the frame limits for a model, by its name."""
    for pattern, limits in _LIMITS:
        if pattern.search(model):
            return limits
    return DEFAULT_LIMITS


def prepare_frame(data: bytes, limits: VisionLimits = DEFAULT_LIMITS) -> PreparedFrame:
    """Decode, check, downscale and re-encode an image; raises FrameError."""
    if not data:
        raise FrameError("empty", "The camera returned no image")
    if len(data) > MAX_INPUT_BYTES:
        raise FrameError("too_large", f"The image is {len(data)} bytes, too large for one frame")
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_PIXELS:
                raise FrameError(
                    "too_large", f"The image is {image.width}x{image.height}, too large"
                )
            image.draft("RGB", (limits.max_side, limits.max_side))  # fast JPEG downscale
            rgb = image.convert("RGB")
    except Image.DecompressionBombError as err:
        raise FrameError("too_large", "The image is too large for one frame") from err
    except (UnidentifiedImageError, OSError) as err:
        raise FrameError(
            "not_an_image", "The camera returned something that is not an image"
        ) from err
    # Bilinear with a reducing gap: the quality of a model's input at a third of Lanczos' time.
    rgb.thumbnail((limits.max_side, limits.max_side), Image.Resampling.BILINEAR, reducing_gap=2.0)
    buffer = io.BytesIO()
    rgb.save(buffer, "JPEG", quality=limits.quality)
    thumbnail = np.asarray(rgb.convert("L").resize((32, 24)), dtype=np.float32)
    return PreparedFrame(buffer.getvalue(), rgb.width, rgb.height, thumbnail)


class ChangeFilter:
    """Keeps frames that differ from the last kept one by at least `threshold` (0-255 scale)."""

    def __init__(self, threshold: float = 6.0) -> None:
        """`threshold` is the mean absolute grey difference of 32x24 thumbnails."""
        self.threshold = threshold
        self._last: np.ndarray | None = None

    def keep(self, frame: PreparedFrame) -> bool:
        """Whether to send `frame` (the first always is)."""
        if self._last is not None:
            change = float(np.mean(np.abs(frame.thumbnail - self._last)))
            if change < self.threshold:
                return False
        self._last = frame.thumbnail
        return True


def estimate_image_tokens(width: int, height: int, model: str, detail: Detail = "auto") -> int:
    """Estimate the input tokens an image of this size costs on `model`'s family.

    OpenAI: 85 for low detail, else 85 + 170 per 512 px tile after fitting in 2048 px and
    scaling the short side to 768 px. Qwen-VL and Doubao: one token per 28x28 patch. Others:
    the OpenAI rule, as most OpenAI-compatible servers follow it.
    """
    if re.search(r"qwen|doubao|seed", model, re.I):
        return max(4, math.ceil(width / 28) * math.ceil(height / 28))
    if detail == "low":
        return 85
    scale = min(1.0, 2048 / max(width, height))
    w, h = width * scale, height * scale
    scale = min(1.0, 768 / min(w, h))
    tiles = math.ceil(w * scale / 512) * math.ceil(h * scale / 512)
    return 85 + 170 * tiles


_VISUAL: Final = re.compile(
    r"\b(see|seeing|look|looks|looking|watch|show|camera|picture|photo|image|visible|"
    r"who(?:'s| is)? (?:at|in|on)|what(?:'s| is)? (?:this|that|on|in front)|"
    r"is (?:the|a|my|there)\b.*\b(?:open|closed|on|off|there|outside|empty|full)|"
    r"colou?r|wearing|holding|read (?:this|the)|how many)\b",
    re.IGNORECASE,
)


def looks_visual(text: str) -> bool:
    """Whether a question sounds like it is about what a camera sees (English, no model call)."""
    return _VISUAL.search(text) is not None
