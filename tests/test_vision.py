"""Frame preparation, change detection, image token estimates and the eager word check."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image
import pytest

from custom_components.anima.core.vision import (
    ChangeFilter,
    FrameError,
    VisionLimits,
    estimate_image_tokens,
    limits_for,
    looks_visual,
    prepare_frame,
)


def _jpeg(width: int, height: int, colour: tuple[int, int, int] = (200, 60, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims a size but holds no pixels (what a decompression bomb looks like)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunks = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


def test_a_big_snapshot_becomes_a_small_jpeg_within_the_models_limit() -> None:
    original = _jpeg(4000, 3000)
    frame = prepare_frame(original, VisionLimits(max_side=1024))
    assert (frame.width, frame.height) == (1024, 768)
    assert frame.jpeg[:2] == b"\xff\xd8"
    with Image.open(io.BytesIO(frame.jpeg)) as decoded:
        assert decoded.size == (1024, 768)
    assert len(frame.jpeg) < len(original)


def test_a_small_image_is_not_enlarged_and_png_is_accepted() -> None:
    buffer = io.BytesIO()
    Image.new("RGBA", (320, 240), (0, 0, 255, 128)).save(buffer, "PNG")
    frame = prepare_frame(buffer.getvalue())
    assert (frame.width, frame.height) == (320, 240)
    assert frame.jpeg[:2] == b"\xff\xd8"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty"),
        (b"<html>not a picture</html>", "not_an_image"),
        (_jpeg(64, 48)[:100], "not_an_image"),  # cut off
        (_png_header_only(9000, 6000), "too_large"),  # 54 MP claimed, no pixels
        (b"\0" * 26_000_000, "too_large"),
    ],
    ids=["empty", "html", "truncated", "bomb", "huge-file"],
)
def test_bad_input_is_a_clear_frame_error(data: bytes, code: str) -> None:
    with pytest.raises(FrameError) as caught:
        prepare_frame(data)
    assert caught.value.code == code


def test_change_filter_drops_frames_that_did_not_change() -> None:
    changes = ChangeFilter()
    red = prepare_frame(_jpeg(640, 480, (200, 30, 30)))
    same = prepare_frame(_jpeg(640, 480, (201, 30, 30)))
    dark = prepare_frame(_jpeg(640, 480, (20, 20, 20)))
    assert [changes.keep(f) for f in (red, same, same, dark, dark, red)] == [
        True,
        False,
        False,
        True,
        False,
        True,
    ]


def test_image_tokens_follow_each_providers_rule() -> None:
    assert estimate_image_tokens(1024, 768, "gpt-4.1-mini", "low") == 85
    # High detail: 1024x768 -> short side 768 -> 2x2 tiles of 512 -> 85 + 4 * 170.
    assert estimate_image_tokens(1024, 768, "gpt-4.1-mini", "high") == 765
    assert estimate_image_tokens(896, 672, "qwen-vl-plus") == 32 * 24
    assert limits_for("gpt-4.1-mini") == VisionLimits(max_side=512, detail="low")
    assert limits_for("qwen-vl-max").max_side == 896


@pytest.mark.parametrize(
    ("question", "visual"),
    [
        ("What do you see?", True),
        ("Who is at the door?", True),
        ("Is the garage door open?", True),
        ("How many cars are in the driveway?", True),
        ("What colour is the cat?", True),
        ("Turn on the kitchen light", False),
        ("What is the capital of France?", False),
        ("Set a timer for ten minutes", False),
    ],
)
def test_eager_mode_recognises_visual_questions(question: str, visual: bool) -> None:
    assert looks_visual(question) is visual
