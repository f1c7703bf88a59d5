"""The audio formats of OpenAI's /v1/audio/speech, made from PCM as the service makes them.

`pcm` is the raw 24 kHz 16-bit mono samples, `wav` those in a WAV file; mp3 (the default),
opus, aac and flac are encoded by Debian's ffmpeg, once per sound (the fake's tones repeat).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import shutil
from typing import Final
import wave

#: response_format: Content-Type, as api.openai.com labels them.
CONTENT_TYPES: Final = {
    "mp3": "audio/mpeg",
    "opus": "audio/opus",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}
_ENCODERS: Final = {
    "mp3": ("-c:a", "libmp3lame", "-f", "mp3"),
    "opus": ("-c:a", "libopus", "-f", "ogg"),
    "aac": ("-c:a", "aac", "-f", "adts"),
    "flac": ("-c:a", "flac", "-f", "flac"),
}
_ENCODED: dict[tuple[str, int, str], bytes] = {}
_MAX_KEPT = 64


async def encode(pcm: bytes, response_format: str, rate: int) -> bytes:
    """Return 16-bit mono `pcm` at `rate` in `response_format` (one of CONTENT_TYPES)."""
    if response_format == "pcm":
        return pcm
    if response_format == "wav":
        with io.BytesIO() as buffer:
            with wave.open(buffer, "wb") as writer:
                writer.setnchannels(1)
                writer.setsampwidth(2)
                writer.setframerate(rate)
                writer.writeframes(pcm)
            return buffer.getvalue()
    key = (response_format, rate, hashlib.sha256(pcm).hexdigest())
    if (kept := _ENCODED.get(key)) is not None:
        return kept
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise RuntimeError("ffmpeg is needed to encode speech (scripts/setup installs it)")
    process = await asyncio.create_subprocess_exec(
        ffmpeg,
        *("-hide_banner", "-loglevel", "error", "-f", "s16le", "-ar", str(rate), "-ac", "1"),
        *("-i", "pipe:0", *_ENCODERS[response_format], "pipe:1"),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    encoded, _ = await process.communicate(pcm)
    if process.returncode:
        raise RuntimeError(f"ffmpeg could not encode {response_format}")
    if len(_ENCODED) >= _MAX_KEPT:
        _ENCODED.pop(next(iter(_ENCODED)))
    _ENCODED[key] = encoded
    return encoded
