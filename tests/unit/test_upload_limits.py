"""What one upload may cost the server that ~30 students share: CPU (a JPEG's scans) and memory (large pictures,
refused from their headers or reduced in bands). Every file is made here with Pillow and numpy; the peak memory of
large uploads is measured in tests/training/test_upload_memory.py.
"""

import io
import re

import numpy as np
from PIL import Image

from helpers import encode, flattened, photo, quadrants, transparent_design, upload_refusal
from vgg.data import uploads as images
from vgg.data.uploads import JPEG_MAX_SCANS, decode_image, load_upload, to_network_input

NAME = "holiday photo.jpg"
RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)
TOO_MANY_SCANS = f"is a JPEG in more than {JPEG_MAX_SCANS} scans"
DAMAGED = "is damaged or incomplete"


# Building inputs --------------------------------------------------------------------------------


def noise(width, height, seed=0):
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8))


def with_extra_scans(data, extra):
    """A Pillow-made progressive JPEG with `extra` copies of its second scan (an AC scan, after the Huffman table
    it uses) right after it: each copy writes the same coefficients again, so the picture stays the same.
    (Counting FF DA is exact here only because Pillow's files hold no metadata with those bytes.)"""
    scans = [found.start() for found in re.finditer(rb"\xff\xda", data)]
    start, end = data.rindex(b"\xff\xc4", 0, scans[1]), data.rindex(b"\xff\xc4", 0, scans[2])
    assert scans[0] < start
    return data[:end] + data[start:end] * extra + data[end:]


def jpeg_claiming(data, width, height):
    frame = re.search(rb"\xff[\xc0\xc2]", data).start()  # Marker, length, precision, then height and width.
    return data[: frame + 5] + height.to_bytes(2, "big") + width.to_bytes(2, "big") + data[frame + 9 :]


def webp_claiming(width, height):
    frames = [Image.new("RGB", (8, 8), colour) for colour in (RED, BLUE)]  # An animation has a VP8X header.
    small = encode(frames[0], "WEBP", lossless=True, save_all=True, append_images=frames[1:])
    canvas = small.index(b"VP8X") + 12  # 24-bit width - 1, then height - 1.
    return small[:canvas] + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little") + small[canvas + 6 :]


# Checking what the user sees -------------------------------------------------------------------


def refusal(data, filename=NAME):
    return upload_refusal(data, filename)


def assert_colour(pixels, expected, tolerance=12):
    difference = np.abs(np.asarray(pixels).astype(int) - np.array(expected)).max()
    assert difference <= tolerance, f"{np.asarray(pixels).reshape(-1, 3)[0]} is not {expected}"


# A JPEG's scans ---------------------------------------------------------------------------------


def unopened(*args, **kwargs):
    """Pillow's open, for a file that must be refused from its bytes before Pillow reads any of it."""
    raise AssertionError("Pillow opened a file that its bytes alone should have refused")


def test_a_jpeg_of_thousands_of_empty_scans_is_refused_from_its_bytes(monkeypatch):
    # 16 megapixels of grey whose AC scans are runs of empty blocks, about 50 bytes a copy: Pillow spends 1 ms
    # on each, 5 s in all here (3 ms at 49 megapixels, minutes for 20 MB of them), and cannot be interrupted.
    grey = encode(Image.new("L", (4000, 4000), 128), progressive=True)
    bomb = with_extra_scans(grey, 5000)
    assert len(bomb) < 1_000_000
    # Without its last 40 bytes a file is damaged, which decoding says; the bomb is refused before that.
    assert DAMAGED in refusal(grey[:-40])
    monkeypatch.setattr(Image, "open", unopened)
    message = refusal(bomb[:-40])
    assert TOO_MANY_SCANS in message and "regular JPEG" in message, message


def test_the_scan_limit_is_exact():
    # Noise and a restart marker every block: the walk skips stuffed FF 00 bytes and RST markers inside scans.
    data = encode(noise(128, 96), quality=95, progressive=True, restart_marker_blocks=1)
    assert data.count(b"\xff\x00") > 100 and data.count(b"\xff\xd0") > 10
    assert data.count(b"\xff\xda") == 10  # libjpeg's progression for a colour picture.
    at_limit = with_extra_scans(data, JPEG_MAX_SCANS - 10)
    assert np.array_equal(np.asarray(decode_image(at_limit, NAME)), np.asarray(decode_image(data, NAME)))
    assert TOO_MANY_SCANS in refusal(with_extra_scans(data, JPEG_MAX_SCANS - 9))


def test_scan_markers_inside_metadata_are_not_counted():
    # A comment or an ICC profile may hold any bytes, FF DA too, as may an EXIF thumbnail (a whole JPEG) or the
    # later pictures of a phone's MPO file: only the scans libjpeg decodes count, found by walking the segments.
    data = encode(
        quadrants(64, 48), quality=95, progressive=True, comment=b"\xff\xda" * 5000, icc_profile=b"\xff\xda" * 5000
    )
    assert data.count(b"\xff\xda") > 10_000
    pixels = np.asarray(decode_image(data, NAME))
    assert_colour(pixels[10, 10], RED)
    assert_colour(pixels[40, 50], WHITE)


def test_a_jpeg_of_very_many_markers_is_refused_before_pillow_parses_them(monkeypatch):
    # Pillow parses each marker before the first scan in Python and keeps it: 4 million empty ones take it
    # about 4 s and 500 MB.
    small = encode(quadrants(8, 8))
    data = small[:2] + b"\xff\xe1\x00\x02" * 4_000_000 + small[2:]
    monkeypatch.setattr(Image, "open", unopened)
    message = refusal(data)
    assert DAMAGED in message and "JPEG" in message, message


def test_a_large_progressive_jpeg_in_full_colour_is_refused_from_its_header():
    # Progressive JPEGs decode through a buffer of all their coefficients, whatever the draft scale:
    # 280 MB for 49 megapixels without colour subsampling (4:4:4), 147 MB with the usual 4:2:0.
    header_only = jpeg_claiming(encode(noise(64, 64), progressive=True, subsampling=0), 8100, 6048)
    message = refusal(header_only)
    assert "is a 49-megapixel progressive JPEG, which needs 280 MB to decode" in message, message


def test_a_progressive_jpeg_photo_still_decodes():
    data = encode(photo(2400, 1800), quality=90, progressive=True)
    image, pixels = load_upload(data, NAME)
    assert image.mode == "RGB" and image.size == (1200, 900)  # At a half: a quarter would leave less than 512.
    assert image.info["original_size"] == (2400, 1800)
    full = Image.open(io.BytesIO(data)).convert("RGB")
    assert np.abs(pixels.astype(int) - to_network_input(full).astype(int)).max() <= 3


def test_a_large_phone_photo_is_reduced_and_still_turned_upright():
    exif = Image.Exif()
    exif[0x0112] = 6  # Phone turned clockwise: the picture is stored turned a quarter anticlockwise.
    stored = quadrants(1200, 1600).transpose(Image.Transpose.ROTATE_90)
    image = decode_image(encode(stored, quality=95, exif=exif), NAME)
    assert image.size == (600, 800) and image.info["original_size"] == (1200, 1600)
    pixels = np.asarray(image)
    assert_colour(pixels[200, 150], RED)
    assert_colour(pixels[200, 450], BLUE)
    assert_colour(pixels[600, 150], GREEN)
    assert_colour(pixels[600, 450], WHITE)


# Memory -----------------------------------------------------------------------------------------


def test_a_webp_is_refused_from_its_header_above_its_own_limit():
    # libwebp and Pillow hold 16 bytes a pixel while decoding: a 10 kB WebP of 49 megapixels took 750 MB.
    message = refusal(webp_claiming(8100, 6048), "sticker.webp")
    assert message.endswith("(49 megapixels); WebP images up to 13 megapixels are accepted."), message


def test_banded_flattening_and_reduction_equal_the_whole_image(monkeypatch):
    design = transparent_design(1100)
    monkeypatch.setattr(images, "MAX_DECODE_BYTES", 1_000_000)  # Reduce a 1.2-megapixel picture, in 5 bands.
    image = decode_image(encode(design, "PNG"), "logo.png")
    assert image.size == (550, 550)
    assert np.array_equal(np.asarray(image), np.asarray(flattened(design).reduce(2)))


def test_deep_greyscale_is_scaled_by_the_range_of_the_whole_picture_not_of_each_band():
    ramp = np.repeat(np.linspace(0, 65535, 2000).astype(np.uint16)[:, None], 600, axis=1)  # Black top, white bottom.
    column = np.asarray(decode_image(encode(Image.fromarray(ramp), "PNG"), "scan.png"))[:, 300, 0].astype(int)
    assert column[0] == 0 and column[-1] == 255 and np.all(np.diff(column) >= 0)
