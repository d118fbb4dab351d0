"""Writes tests/data/unfamiliar/: 48 small pictures of nothing CIFAR-10 knows, 8 of each kind (words, line drawings,
noise, flat colours and patterns, screenshot-like windows, cartoon faces), for benchmarks/unfamiliar.py and the tests.

    python tests/data/make_unfamiliar.py

Deterministic: fixed seeds and Pillow's own bundled font, so the same Pillow writes the same files.
"""

import pathlib

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FOLDER = pathlib.Path(__file__).resolve().parent / "unfamiliar"
SIZE = 64  # Uploads are shrunk to 32x32 anyway; 64 keeps the files small and the strokes smooth.
WORDS = ("HELLO", "STOP", "Hi!", "2026", "abc", "OK", "VGG", "YES")
PAPERS = ("white", "white", "white", "white", "#ffe680", "#9fd3ff", "#ffb3c6", "#c8f7c5")
INKS = ("black", "#c00000", "#0030a0", "black", "black", "black", "#404040", "#6a00a0")


def font(size):
    return ImageFont.load_default(size=size)


def words():
    for number, (word, paper, ink) in enumerate(zip(WORDS, PAPERS, INKS, strict=True)):
        image = Image.new("RGB", (SIZE, SIZE), paper)
        size = 26 if len(word) <= 3 else 15
        ImageDraw.Draw(image).text((SIZE / 2, SIZE / 2), word, fill=ink, font=font(size), anchor="mm")
        yield f"word-{number}-{word.lower().strip('!')}", image


def drawing(number):
    """A black line drawing on white: shapes, a house, a stick figure, a spiral, a star."""
    image = Image.new("RGB", (SIZE, SIZE), "white")
    draw = ImageDraw.Draw(image)
    ink = ("black", "#1040c0", "#c02020", "black")[number % 4]
    if number == 0:
        draw.ellipse((12, 12, 52, 52), outline=ink, width=3)
    elif number == 1:
        draw.polygon([(32, 8), (56, 54), (8, 54)], outline=ink, width=3)
    elif number == 2:
        draw.rectangle((14, 30, 50, 56), outline=ink, width=3)
        draw.line([(10, 32), (32, 10), (54, 32)], fill=ink, width=3)
        draw.rectangle((28, 42, 36, 56), outline=ink, width=2)
    elif number == 3:
        draw.ellipse((26, 6, 38, 18), outline=ink, width=2)
        draw.line([(32, 18), (32, 40), (22, 58)], fill=ink, width=2)
        draw.line([(32, 40), (42, 58)], fill=ink, width=2)
        draw.line([(18, 26), (46, 26)], fill=ink, width=2)
    elif number == 4:
        angles = np.linspace(0, 6 * np.pi, 200)
        points = [(32 + a * 1.4 * np.cos(a), 32 + a * 1.4 * np.sin(a)) for a in angles]
        draw.line(points, fill=ink, width=2)
    elif number == 5:
        angles = np.arange(10) * np.pi / 5 - np.pi / 2
        radii = np.where(np.arange(10) % 2 == 0, 26, 11)
        draw.polygon([(32 + r * np.cos(a), 32 + r * np.sin(a)) for r, a in zip(radii, angles, strict=True)], ink)
    elif number == 6:
        for step in range(0, SIZE, 8):
            draw.line([(step, 0), (SIZE - 1, SIZE - 1 - step)], fill=ink, width=1)
    else:
        draw.line([(8, 50), (20, 14), (32, 40), (44, 14), (56, 50)], fill=ink, width=3)
    return image


def drawings():
    for number in range(8):
        yield f"drawing-{number}", drawing(number)


def noise():
    rng = np.random.default_rng(2026)
    shape = (SIZE, SIZE, 3)
    pictures = [
        rng.integers(0, 256, shape),  # Uniform colour noise.
        np.repeat(rng.integers(0, 256, (SIZE, SIZE, 1)), 3, axis=2),  # Uniform grey noise.
        rng.normal(128, 40, shape),  # Gaussian colour noise.
        np.repeat(rng.normal(128, 60, (SIZE, SIZE, 1)), 3, axis=2),  # Gaussian grey noise.
        rng.normal(60, 25, shape),  # Dark Gaussian noise.
        rng.normal(200, 25, shape),  # Light Gaussian noise.
        np.repeat(np.where(rng.random((SIZE, SIZE, 1)) < 0.5, 0, 255), 3, axis=2),  # Salt and pepper.
        np.kron(rng.integers(0, 256, (8, 8, 3)), np.ones((8, 8, 1))),  # Coarse colour blocks.
    ]
    for number, pixels in enumerate(pictures):
        yield f"noise-{number}", Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def patterns():
    flat = ("#ff0000", "#00a000", "#ffffff", "#202020")
    for number, colour in enumerate(flat):
        yield f"flat-{number}", Image.new("RGB", (SIZE, SIZE), colour)
    grid = np.indices((SIZE, SIZE)).sum(axis=0)
    stripes = [(grid // 8) % 2, (np.indices((SIZE, SIZE))[0] // 4) % 2, (np.indices((SIZE, SIZE))[1] // 16) % 2]
    checks = ((np.indices((SIZE, SIZE)) // 8).sum(axis=0)) % 2
    for number, mask in enumerate([checks, *stripes]):
        pixels = np.where(mask[..., None] == 1, [230, 30, 30], [250, 250, 250]) if number % 2 else mask[..., None] * 255
        yield f"pattern-{number}", Image.fromarray(np.broadcast_to(pixels, (SIZE, SIZE, 3)).astype(np.uint8))


def screenshot(number):
    """A window: a title bar, lines of text or buttons, in a few colour schemes."""
    dark = number % 3 == 2
    image = Image.new("RGB", (SIZE, SIZE), "#202124" if dark else "#f4f4f4")
    draw = ImageDraw.Draw(image)
    bar = ("#3b78e7", "#5f6368", "#202124", "#0b8043")[number % 4]
    draw.rectangle((0, 0, SIZE, 9), fill=bar)
    for x, colour in ((3, "#ff5f57"), (9, "#febc2e"), (15, "#28c840")):
        draw.ellipse((x, 2, x + 4, 6), fill=colour)
    text = "#e8eaed" if dark else "#202124"
    if number % 2 == 0:
        for row in range(4):
            draw.text((4, 14 + row * 11), ("File", "Save as", "Options", "Cancel")[row], fill=text, font=font(9))
    else:
        draw.rectangle((6, 16, 58, 28), outline="#9aa0a6", fill="white")
        draw.text((8, 18), "Search", fill="#5f6368", font=font(8))
        draw.rounded_rectangle((10, 40, 30, 52), radius=3, fill="#1a73e8")
        draw.rounded_rectangle((34, 40, 54, 52), radius=3, outline="#1a73e8")
        draw.text((13, 42), "OK", fill="white", font=font(8))
    if number >= 4:
        draw.rectangle((0, 10, 12, SIZE), fill="#e0e0e0" if not dark else "#303134")
    return image


def screenshots():
    for number in range(8):
        yield f"screenshot-{number}", screenshot(number)


def face(number):
    """A cartoon face: a round head, two eyes and a smile (or a frown), on a plain background."""
    backgrounds = ("white", "#9fd3ff", "white", "#c8f7c5", "#fff0b3", "white", "#ffd6e0", "#e0e0e0")
    skins = ("#ffd21f", "#ffd21f", "#f2c094", "#8d5524", "#ffdbac", "#c68642", "#ffd21f", "#f1c27d")
    image = Image.new("RGB", (SIZE, SIZE), backgrounds[number])
    draw = ImageDraw.Draw(image)
    draw.ellipse((6, 6, 58, 58), fill=skins[number], outline="black", width=2)
    draw.ellipse((20, 20, 27, 29), fill="black")
    draw.ellipse((37, 20, 44, 29), fill="black")
    if number % 4 == 3:
        draw.arc((20, 38, 44, 56), 200, 340, fill="black", width=3)
    else:
        draw.arc((18, 26, 46, 48), 20, 160, fill="black", width=3)
    if number >= 4:
        draw.pieslice((8, 0, 56, 22), 180, 360, fill=("#3b2314", "black", "#d4a017", "#a52a2a")[number % 4])
    return image


def faces():
    for number in range(8):
        yield f"face-{number}", face(number)


def pictures():
    """(name, image) of every picture, in a fixed order."""
    for kind in (words, drawings, noise, patterns, screenshots, faces):
        yield from kind()


def main():
    FOLDER.mkdir(exist_ok=True)
    for old in FOLDER.glob("*.png"):
        old.unlink()
    for name, image in pictures():
        image.save(FOLDER / f"{name}.png", optimize=True)


if __name__ == "__main__":
    main()
