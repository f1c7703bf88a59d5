"""Draw Anima's brand icon (a lens that speaks) into custom_components/anima/brand/.

Run with .venv/bin/python after changing the design; the PNGs are committed because HACS and
Home Assistant read them from the repository.
"""

from pathlib import Path

from PIL import Image, ImageDraw

BRAND = Path(__file__).resolve().parent.parent / "custom_components" / "anima" / "brand"
TEAL, LIGHT, ACCENT = (18, 94, 110, 255), (236, 248, 246, 255), (255, 183, 77, 255)


def draw(size: int) -> Image.Image:
    """Return the icon at `size` x `size` pixels, drawn at 4x and scaled down for smooth edges."""
    big = size * 4
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    pen.rounded_rectangle((0, 0, big - 1, big - 1), radius=big // 5, fill=TEAL)
    centre_x, centre_y, lens = big * 0.40, big / 2, big * 0.17
    pen.ellipse(
        (centre_x - lens, centre_y - lens, centre_x + lens, centre_y + lens),
        outline=LIGHT,
        width=big // 22,
    )
    pupil = lens * 0.42
    pen.ellipse(
        (centre_x - pupil, centre_y - pupil, centre_x + pupil, centre_y + pupil), fill=ACCENT
    )
    for step in range(1, 4):  # sound waves leaving the lens
        radius = lens + step * big * 0.085
        pen.arc(
            (centre_x - radius, centre_y - radius, centre_x + radius, centre_y + radius),
            start=-40,
            end=40,
            fill=LIGHT,
            width=big // 30,
        )
    return image.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    """Write icon.png (256 px) and icon@2x.png (512 px)."""
    BRAND.mkdir(exist_ok=True)
    draw(256).save(BRAND / "icon.png", optimize=True)
    draw(512).save(BRAND / "icon@2x.png", optimize=True)


if __name__ == "__main__":
    main()
