"""What a user notices when uploading awkward files: a right-looking 32x32 input, or one clear sentence.

Every input is generated here, in memory, with Pillow and numpy: broken files, decompression bombs,
every colour mode, animations, rotated phone photos and very small or thin pictures.
"""

import io
import json
import struct
import subprocess
import sys
import zipfile
import zlib

import numpy as np
import pytest
from PIL import Image

from helpers import assert_upload_refusal, encode, subprocess_environment, upload_refusal
from vgg.data import uploads as images
from vgg.data.uploads import MAX_UPLOAD_BYTES, ImageError, decode_image, load_upload, to_network_input

RED, BLUE, GREEN, WHITE, BLACK = (255, 0, 0), (0, 0, 255), (0, 255, 0), (255, 255, 255), (0, 0, 0)
NAME = "holiday photo.png"  # A space and a dot, as real file names have.

NOT_AN_IMAGE = "is not an image that can be read"
DAMAGED = "is damaged or incomplete"
TOO_MANY_PIXELS = "images up to 50 megapixels are accepted"


# Building inputs --------------------------------------------------------------------------------


def red_square(mode="RGB", background=WHITE, size=64):
    """A red square filling the middle half of a white picture: 32x32 shows red in [8:24, 8:24]."""
    image = Image.new("RGB", (size, size), background)
    image.paste(RED, (size // 4, size // 4, 3 * size // 4, 3 * size // 4))
    return image if mode == "RGB" else image.convert(mode)


def noise(size=64, seed=0):
    """Incompressible pixels, so that the middle of the file is pixel data, not headers."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def png_chunk(kind, payload):
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_file(width, height, idat=b"", colour_type=2):
    """A PNG with the given header; colour type 2 is RGB, 0 greyscale, both 8 bits a sample."""
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def real_bomb_png(width, height, shade=0):
    """A valid greyscale PNG of one shade: width x height bytes decoded, a few kB on disk.

    A grey shade rather than black for the control: pages of zeros may never be touched,
    and then the memory probe would see no growth at all."""
    compressor, row = zlib.compressobj(9), bytes([0]) + bytes([shade]) * width  # Filter byte 0, then pixels.
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return png_file(width, height, idat, colour_type=0)


def ico_hiding(png):
    """An ICO whose directory says 16x16 but whose one entry is the given PNG."""
    header = struct.pack("<HHH", 0, 1, 1)
    entry = struct.pack("<BBBBHHII", 16, 16, 0, 0, 1, 32, len(png), 6 + 16)
    return header + entry + png


def patched(data, offset, fmt, *values):
    data = bytearray(data)
    struct.pack_into(fmt, data, offset, *values)
    return bytes(data)


def jpeg_claiming(width, height):
    small = encode(Image.new("RGB", (8, 8), RED), "JPEG")
    sof = small.index(b"\xff\xc0")  # Marker, length, precision, then height and width.
    return patched(small, sof + 5, ">HH", height, width)


def gif_claiming(width, height):
    return patched(encode(Image.new("P", (8, 8)), "GIF"), 6, "<HH", width, height)  # The logical screen.


def bmp_claiming(width, height):
    return patched(encode(Image.new("RGB", (8, 8), RED), "BMP"), 18, "<ii", width, height)


def webp_claiming(width, height):
    frames = [Image.new("RGB", (8, 8), colour) for colour in (RED, BLUE)]  # An animation has a VP8X header.
    small = encode(frames[0], "WEBP", lossless=True, save_all=True, append_images=frames[1:])
    canvas = small.index(b"VP8X") + 12  # 24-bit width - 1, then height - 1.
    size = (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    return small[:canvas] + size + small[canvas + 6 :]


def zip_file():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("cat.png", encode(red_square(), "PNG"))
    return buffer.getvalue()


def cut_in_half(data):
    return data[: len(data) // 2]


def zero_middle(data, count=64):
    middle = len(data) // 2
    return data[:middle] + bytes(count) + data[middle + count :]


# Checking what the user sees -------------------------------------------------------------------


def refusal(data, filename=NAME):
    return upload_refusal(data, filename)


def assert_colour(pixels, expected, tolerance=6):
    difference = np.abs(pixels.astype(int) - np.array(expected)).max()
    assert difference <= tolerance, f"{pixels.reshape(-1, 3)[0]} is not {expected}"


def assert_red_square_on_white(pixels):
    assert pixels.shape == (32, 32, 3) and pixels.dtype == np.uint8
    assert_colour(pixels[10:22, 10:22], RED)
    for corner in (pixels[:6, :6], pixels[:6, -6:], pixels[-6:, :6], pixels[-6:, -6:]):
        assert_colour(corner, WHITE)


# Files that are not images, or broken ones ------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"These are my holiday notes, not a photo.\n",
        b"<!DOCTYPE html><html><body><img src='cat.png'></body></html>",
        b'<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32"><rect fill="red"/></svg>',
        zip_file(),
        b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n",
        np.random.default_rng(0).bytes(4096),
        b"\x89PNG\r\n\x1a\n",  # A PNG signature and nothing else.
        png_file(0, 10),  # A PNG header saying the picture is 0 pixels wide.
        encode(red_square(), "TGA"),  # Pillow reads it, but nobody uploads one for a photo.
        ico_hiding(real_bomb_png(4000, 4000)),  # ICO decodes while opening; refusing it keeps bombs out.
    ],
    ids=["text", "html", "svg", "zip", "pdf", "random", "png-signature-only", "png-zero-width", "tga", "ico"],
)
def test_a_file_that_is_not_a_usable_image_gets_one_sentence(data):
    assert NOT_AN_IMAGE in refusal(data)


def test_an_empty_file_gets_one_sentence():
    assert refusal(b"") == f"{NAME} is empty."


@pytest.mark.parametrize(
    "data",
    [
        cut_in_half(encode(noise(), "PNG")),
        cut_in_half(encode(noise(), "JPEG", quality=95)),
        cut_in_half(encode(noise(), "JPEG", quality=95, progressive=True)),
        cut_in_half(encode(noise().convert("P"), "GIF")),
        cut_in_half(encode(noise(), "BMP")),
        cut_in_half(encode(noise(), "TIFF")),
        zero_middle(encode(noise(), "PNG")),  # Its checksums notice.
    ],
    ids=["png-cut", "jpeg-cut", "progressive-jpeg-cut", "gif-cut", "bmp-cut", "tiff-cut", "png-corrupt-middle"],
)
def test_a_truncated_or_corrupt_image_is_called_damaged(data):
    assert DAMAGED in refusal(data)


@pytest.mark.parametrize("params", [{"quality": 90}, {"lossless": True}], ids=["lossy", "lossless"])
def test_a_cut_webp_gets_one_sentence(params):
    # libwebp decodes while Pillow opens the file, so the damage shows up as "not readable".
    assert NOT_AN_IMAGE in refusal(cut_in_half(encode(noise(), "WEBP", **params)))


def test_a_jpeg_with_a_corrupt_header_gets_one_sentence():
    data = encode(red_square(), "JPEG")
    sof = data.index(b"\xff\xc0")
    assert refusal(data[:sof] + bytes(8) + data[sof + 8 :])


@pytest.mark.parametrize(
    "format, params",
    [("JPEG", {"quality": 95}), ("WEBP", {"quality": 90}), ("WEBP", {"lossless": True})],
    ids=["jpeg", "webp-lossy", "webp-lossless"],
)
def test_corrupt_pixel_data_without_a_checksum_still_decodes(format, params):
    # JPEG and WebP have no checksum over the pixels: the user sees a partly garbled picture, no error.
    image, pixels = load_upload(zero_middle(encode(noise(), format, **params), 16), NAME)
    assert image.size == (64, 64) and pixels.shape == (32, 32, 3) and pixels.dtype == np.uint8


def test_a_file_name_with_a_newline_still_gives_one_line():
    with pytest.raises(ImageError) as caught:
        load_upload(b"not an image", "two\nlines.png")
    assert_upload_refusal(caught.value, "two lines.png")


# Size limits ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data, sentence",
    [
        (png_file(8000, 8000), "is 8000x8000 pixels (64 megapixels)"),
        (png_file(10_000, 10_000), "is 10000x10000 pixels (100 megapixels)"),  # Pillow only warns here.
        (png_file(30_000, 30_000), "has more than 178 megapixels"),  # Pillow refuses this itself.
        (png_file(50_000_001, 1), "is 50000001x1 pixels (51 megapixels)"),  # A thin one.
        (jpeg_claiming(9000, 9000), "is 9000x9000 pixels (81 megapixels)"),
        (gif_claiming(9000, 9000), "is 9000x9000 pixels (81 megapixels)"),
        (bmp_claiming(9000, 9000), "is 9000x9000 pixels (81 megapixels)"),
        (webp_claiming(16_000, 16_000), "has more than 178 megapixels"),
    ],
    ids=["png-64mp", "png-100mp", "png-900mp", "png-thin", "jpeg", "gif", "bmp", "webp"],
)
def test_a_decompression_bomb_is_refused_from_its_header(data, sentence):
    # These files hold a header and no pixels: had decoding started, they would be called damaged.
    message = refusal(data)
    assert sentence in message and message.endswith(TOO_MANY_PIXELS + "."), message


MEMORY_PROBE = """
import json, resource, sys
from vgg.data.uploads import ImageError, load_upload

def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux

results = {}
for path in sys.argv[1:]:  # The bombs first: the peak only ever grows.
    before = peak_mb()
    try:
        image, _ = load_upload(open(path, "rb").read(), path)
        outcome = f"decoded {image.width}x{image.height}"
    except ImageError as error:
        outcome = str(error)
    results[path] = {"outcome": outcome, "growth_mb": peak_mb() - before}
print(json.dumps(results))
"""


def test_decompression_bombs_leave_memory_alone(tmp_path):
    """Real bombs (valid files of black pixels) measured in a fresh process: only the control,
    an accepted 36-megapixel picture, makes memory grow, which shows the probe would notice."""
    bomb = real_bomb_png(9000, 9000)  # 81 MB as greyscale and 243 MB as RGB, once decoded; 80 kB here.
    files = {"bomb.png": bomb, "bomb.ico": ico_hiding(bomb), "control.png": real_bomb_png(6000, 6000, shade=128)}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    assert max(len(data) for data in files.values()) < 200_000
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, *files],
        cwd=tmp_path,
        env=subprocess_environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert TOO_MANY_PIXELS in results["bomb.png"]["outcome"]
    assert NOT_AN_IMAGE in results["bomb.ico"]["outcome"]
    assert results["control.png"]["outcome"] == "decoded 6000x6000"
    if results["control.png"]["growth_mb"] <= 60:
        # A child's peak-RSS count starts from its parent's peak on Linux, so under a large parent the probe sees
        # no growth even for the accepted 36-megapixel control and cannot judge the bombs.
        pytest.skip(
            f"memory probe blind here (control grew {results['control.png']['growth_mb']:.0f} MB); "
            "only the sentences were checked"
        )
    assert results["bomb.png"]["growth_mb"] < 20 and results["bomb.ico"]["growth_mb"] < 20, results


def test_the_pixel_limit_is_exact(monkeypatch):
    monkeypatch.setattr(images, "MAX_PIXELS", 100)
    assert decode_image(encode(red_square(size=10), "PNG"), NAME).size == (10, 10)
    assert "is 10x11 pixels" in refusal(encode(Image.new("RGB", (10, 11)), "PNG"))


def test_an_upload_over_the_byte_limit_gets_the_megabyte_sentence():
    picture = encode(red_square(), "PNG")
    padding = bytes(MAX_UPLOAD_BYTES - len(picture))  # Pillow stops reading at the end of the PNG.
    _, pixels = load_upload(picture + padding, NAME)  # Exactly at the limit: accepted.
    assert_red_square_on_white(pixels)
    message = refusal(picture + padding + b"\0")
    assert message == f"{NAME} is 20.1 MB; images up to 20 MB are accepted."


# Colour modes, transparency and formats ----------------------------------------------------------


def palette_picture():
    """Palette entry 0 is black, 1 red: a red square on a black background, to be made transparent."""
    image = Image.new("P", (64, 64), 0)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0, 0, 0] * 254)
    image.paste(1, (16, 16, 48, 48))
    return image


def rgba_picture(square_alpha=255):
    """A red square on a fully transparent BLACK background, which must not show as black."""
    image = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    image.paste((255, 0, 0, square_alpha), (16, 16, 48, 48))
    return image


def grey_square(square, background, dtype, mode=None):
    values = np.full((64, 64), background, dtype=dtype)
    values[16:48, 16:48] = square
    return Image.fromarray(values) if mode is None else Image.frombytes(mode, (64, 64), values.tobytes())


RED_SQUARE_ON_WHITE = {
    "cmyk-jpeg": encode(red_square("CMYK"), "JPEG", quality=95),
    "cmyk-tiff": encode(red_square("CMYK"), "TIFF"),
    "palette-png": encode(red_square().quantize(4), "PNG"),
    "palette-png-transparent": encode(palette_picture(), "PNG", transparency=0),
    "palette-gif-transparent": encode(palette_picture(), "GIF", transparency=0),
    "rgba-png-transparent": encode(rgba_picture(), "PNG"),
    "rgba-webp-transparent": encode(rgba_picture(), "WEBP", lossless=True),
    "rgba-tiff-transparent": encode(rgba_picture(), "TIFF"),
    "rgb-png-transparent-colour": encode(red_square(background=BLACK), "PNG", transparency=BLACK),
    "png": encode(red_square(), "PNG"),
    "jpeg": encode(red_square(), "JPEG", quality=95),
    "progressive-jpeg": encode(red_square(), "JPEG", quality=95, progressive=True),
    "webp-lossy": encode(red_square(), "WEBP", quality=90),
    "webp-lossless": encode(red_square(), "WEBP", lossless=True),
    "bmp": encode(red_square(), "BMP"),
    "gif": encode(red_square(), "GIF"),
    "tiff": encode(red_square(), "TIFF"),
    "phone-mpo": encode(red_square(), "MPO", save_all=True, append_images=[Image.new("RGB", (64, 64))]),
}


@pytest.mark.parametrize("data", RED_SQUARE_ON_WHITE.values(), ids=RED_SQUARE_ON_WHITE.keys())
def test_a_red_square_stays_red_on_white_in_every_mode_and_format(data):
    image, pixels = load_upload(data, NAME)
    assert image.mode == "RGB" and image.size == (64, 64)
    assert_red_square_on_white(pixels)


def test_half_transparent_red_is_pink_on_white():
    _, pixels = load_upload(encode(rgba_picture(square_alpha=128), "PNG"), NAME)
    assert_colour(pixels[10:22, 10:22], (255, 127, 127), tolerance=2)
    assert_colour(pixels[:6, :6], WHITE, tolerance=0)


GREY_SQUARES = {  # name: (file, the square's grey and the background's grey, 0-255, as shown)
    "1-bit": (encode(grey_square(0, 255, np.uint8).convert("1"), "PNG"), 0, 255),
    "l-transparent": (encode(grey_square(128, 0, np.uint8), "PNG", transparency=0), 128, 255),
    "16-bit-png": (encode(grey_square(0, 65535, np.uint16), "PNG"), 0, 255),
    "16-bit-tiff-big-endian": (encode(grey_square(65535, 0, ">u2", mode="I;16B"), "TIFF"), 255, 0),
    "32-bit-tiff-negative": (encode(grey_square(1000, -500, np.int32), "TIFF"), 255, 0),
    "float-tiff": (encode(grey_square(0.0, 0.75, np.float32), "TIFF"), 0, 255),
}


@pytest.mark.parametrize("data, square, background", GREY_SQUARES.values(), ids=GREY_SQUARES.keys())
def test_greyscale_modes_keep_their_contrast(data, square, background):
    image, pixels = load_upload(data, NAME)
    assert image.mode == "RGB" and pixels.dtype == np.uint8
    assert_colour(pixels[10:22, 10:22], (square,) * 3, tolerance=1)
    assert_colour(pixels[:6, :6], (background,) * 3, tolerance=1)


def test_la_transparency_becomes_white():
    values = np.zeros((64, 64, 2), dtype=np.uint8)  # Transparent black...
    values[16:48, 16:48] = (60, 255)  # ...around an opaque dark grey square.
    _, pixels = load_upload(encode(Image.fromarray(values), "PNG"), NAME)
    assert_colour(pixels[10:22, 10:22], (60, 60, 60), tolerance=0)
    assert_colour(pixels[:6, :6], WHITE, tolerance=0)


@pytest.mark.parametrize("format", ["PNG", "TIFF"])
def test_a_16_bit_ramp_spans_the_8_bit_range_instead_of_clipping_to_white(format):
    ramp = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (64, 1))  # Black at the left, white at the right.
    image, pixels = load_upload(encode(Image.fromarray(ramp), format), NAME)
    row = np.asarray(image)[32, :, 0].astype(int)
    assert row[0] == 0 and row[-1] == 255 and np.all(np.diff(row) > 0)
    assert np.array_equal(pixels[..., 0], pixels[..., 2])  # Still grey.


@pytest.mark.parametrize(
    "format, params",
    [("GIF", {}), ("WEBP", {"lossless": True}), ("PNG", {})],
    ids=["gif", "webp", "apng"],
)
def test_an_animation_shows_its_first_frame(format, params):
    frames = [Image.new("RGB", (40, 40), colour) for colour in (RED, GREEN, BLUE)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format, save_all=True, append_images=frames[1:], duration=100, loop=0, **params)
    assert Image.open(io.BytesIO(buffer.getvalue())).n_frames == 3
    _, pixels = load_upload(buffer.getvalue(), NAME)
    assert_colour(pixels, RED, tolerance=0)


# Phone photos with an EXIF rotation ------------------------------------------------------------


def upright_photo():
    """60x40, landscape: red top-left, blue top-right, green bottom-left, white bottom-right."""
    image = Image.new("RGB", (60, 40), WHITE)
    image.paste(RED, (0, 0, 30, 20))
    image.paste(BLUE, (30, 0, 60, 20))
    image.paste(GREEN, (0, 20, 30, 40))
    return image


# How a camera held each way stores the upright picture, per the EXIF standard's Orientation tag.
STORED_AS = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,  # Phone turned clockwise: stored turned a quarter anticlockwise.
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def phone_photo(orientation, broken_exif=False):
    stored = upright_photo()
    if STORED_AS[orientation] is not None:
        stored = stored.transpose(STORED_AS[orientation])
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "Phone"  # Make.
    data = encode(stored, "JPEG", quality=95, exif=exif)
    if broken_exif:  # Retag Make as ImageWidth: text where a number belongs, as some editors leave it.
        make = data.index(b"Exif\0\0") + 6 + 10  # TIFF header (8) + entry count (2): the first entry.
        assert data[make : make + 2] == b"\x01\x0f"
        data = data[:make] + b"\x01\x00" + data[make + 2 :]
    return data


def assert_upright(image):
    assert image.size == (60, 40)
    pixels = np.asarray(image)
    assert_colour(pixels[10, 15], RED, 12)
    assert_colour(pixels[10, 45], BLUE, 12)
    assert_colour(pixels[30, 15], GREEN, 12)
    assert_colour(pixels[30, 45], WHITE, 12)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_a_phone_photo_is_turned_upright(orientation):
    assert_upright(decode_image(phone_photo(orientation), NAME))


def test_a_phone_photo_with_broken_exif_is_still_turned_upright():
    assert_upright(decode_image(phone_photo(6, broken_exif=True), NAME))


# Very small and very thin pictures, and the crop to a square -----------------------------------


@pytest.mark.parametrize("size", [(1, 1), (2, 3), (3, 2), (1, 2000), (2000, 1), (31, 33)])
def test_very_small_or_thin_pictures_still_give_32x32(size):
    image, pixels = load_upload(encode(Image.new("RGB", size, GREEN), "PNG"), NAME)
    assert image.size == size and pixels.shape == (32, 32, 3) and pixels.dtype == np.uint8
    assert_colour(pixels, GREEN, tolerance=0)


@pytest.mark.parametrize("size", [(96, 32), (32, 96), (3000, 40)])
def test_a_non_square_picture_is_centre_cropped_not_squashed(size):
    width, height = size
    image = Image.new("RGB", size, BLUE)
    side = min(size)
    image.paste(RED, ((width - side) // 2, (height - side) // 2, (width + side) // 2, (height + side) // 2))
    assert_colour(to_network_input(image), RED, tolerance=0)  # Squashed, the blue edges would show.


def test_shrinking_averages_pixels_rather_than_picking_some():
    stripes = np.zeros((64, 64, 3), dtype=np.uint8)
    stripes[:, ::2] = 255  # One-pixel stripes: picking every other pixel would give all white or all black.
    pixels = to_network_input(Image.fromarray(stripes))
    assert_colour(pixels, (128, 128, 128), tolerance=1)
    assert to_network_input(Image.fromarray(stripes), size=8).shape == (8, 8, 3)
