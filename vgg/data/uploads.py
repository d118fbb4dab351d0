"""Turning whatever a user uploads into the 32x32 RGB image the network sees."""

import io
import math
import re
import threading
import warnings

import numpy as np
from PIL import Image

from vgg.core.cifar10 import IMAGE_SIZE
from vgg.core.errors import UserError

MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # Phone photos are 2-12 MB; more is not a photo.
# What one browser session's uploads may hold in the server's memory at once: Predict shows 20 photos, and 30
# students at the cap hold 1.8 GB.
SESSION_FILES = 24
SESSION_BYTES = 60 * 2**20
DECODES = 2  # Decodes at once in the server (up to MAX_DECODE_BYTES and 1-3 s of a core each).
_decoding = threading.BoundedSemaphore(DECODES)
UPLOAD_TYPES = ["png", "jpg", "jpeg", "webp", "gif", "bmp"]  # What the upload widgets offer; decoding accepts more.
MAX_PIXELS = 50_000_000  # 200 MB decoded, as Pillow keeps 4 bytes a pixel (RGB too); larger files are refused unread.
MAX_DECODE_BYTES = 200 * 2**20  # What one upload may take while decoding, with 30 students sharing one server.
# Pillow decodes a WebP through libwebp's two RGBA canvases, a bytes copy of one and its own image: 16 bytes a pixel.
WEBP_MAX_PIXELS = MAX_DECODE_BYTES // 16
# The Predict page shows at most 256x256 and the network 32x32: a reduced picture keeps a short side of at least
# 512 pixels (or, for a panorama too thin for that, about 4 megapixels), so the centre crop and box shrink lose nothing.
KEEP_SIDE = 512
KEEP_PIXELS = 4_000_000
BAND_PIXELS = 250_000  # Pictures are converted (and reduced) a band of about this many pixels (1 MB) at a time.
# libjpeg decodes every scan a JPEG holds, about 3 ms each at 49 megapixels even when empty, and photos use 10
# (libjpeg's progression for colour; 6 for grey, 18 for CMYK): libtiff stops a JPEG at the same 100 by default.
JPEG_MAX_SCANS = 100
# A progressive JPEG is decoded through a whole-image buffer of coefficients, 2 bytes a pixel and component whatever
# the draft scale; this much, with the file and the reduced pixels, fits MAX_DECODE_BYTES and lets every 4:2:0 colour
# photo within MAX_PIXELS through (150 MB at 50 megapixels).
JPEG_MAX_COEFFICIENT_BYTES = 160 * 2**20
JPEG_MAX_MARKERS = 10_000  # Photos hold a few hundred at most; Pillow parses each one in Python while opening.
# Only the formats people upload. Pillow's other decoders are rarely exercised, and some (ICO, for one)
# decode the pixels while opening, before the size check below can refuse them.
FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")  # JPEG includes MPO, the multi-picture JPEG of phones.
_ORIENTATION = 0x0112  # The EXIF tag in which phones say how to turn the stored pixels upright.
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_QUARTER_TURNS = {_UPRIGHT[orientation] for orientation in (5, 6, 7, 8)}  # These swap width and height.


# The next marker libjpeg acts on: it skips stuffing (FF 00), fill (FF FF), restarts (FF D0-D7) and, inside
# entropy-coded data, the invalid codes below C0 (elsewhere those are fatal), all without a length.
_JPEG_MARKER = re.compile(rb"\xff[\xc0-\xcf\xd8-\xfe]")
_JPEG_FRAMES = {0xC0, 0xC1, 0xC2, 0xC3, 0xC9, 0xCA, 0xCB}  # The start-of-frame markers libjpeg-turbo decodes.
_JPEG_PROGRESSIVE = {0xC2, 0xCA}
# The segments libjpeg reads by their length and goes on after: frames, DHT, DAC, SOS, DQT, DNL, DRI, APPn, COM.
# It fails at the other markers (SOI again, SOF5-7 and 13-15, DHP, EXP, JPGn): walking on past them can only count
# more scans than libjpeg decodes, never fewer.
_JPEG_SEGMENTS = _JPEG_FRAMES | {0xC4, 0xCC, 0xDA, 0xDB, 0xDC, 0xDD, 0xFE, *range(0xE0, 0xF0)}
_WIDE_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")  # Greyscale deeper than 8 bits.
_BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}  # Pillow keeps others in 4.


class ImageError(UserError, ValueError):
    """An upload that is not a usable image; its message is one sentence for the user."""


def decode_image(data, filename="the file"):
    """Decodes bytes to an RGB PIL image: first frame of animations, EXIF rotation applied, transparency flattened
    onto white, 16-bit and CMYK converted; JPEGs, and other pictures too large for MAX_DECODE_BYTES, reduced (see
    KEEP_SIDE), with info["original_size"] the upright size before. Raises ImageError otherwise."""
    name = " ".join(str(filename).split()) or "the file"  # A newline in a file name would split the sentence.
    if not data:
        raise ImageError(f"{name} is empty.")
    if len(data) > MAX_UPLOAD_BYTES:
        megabytes = math.ceil(len(data) / 2**20 * 10) / 10  # Rounded up: "20.0 MB" would look accepted.
        raise ImageError(f"{name} is {megabytes:.1f} MB; images up to {MAX_UPLOAD_BYTES // 2**20} MB are accepted.")
    # Before Pillow opens a JPEG: it parses every marker up to the first scan in Python, keeping each one.
    jpeg = _jpeg_walk(data, name) if data[:3] == b"\xff\xd8\xff" else None
    image = _open(data, name)
    if jpeg is not None and image.format in ("JPEG", "MPO"):
        _check_jpeg_memory(image.size, *jpeg, name)
    try:
        image.seek(0)  # The first frame of an animated GIF, WebP or PNG.
        stored_size = image.size
        if image.format in ("JPEG", "MPO"):
            # libjpeg scales by 1/2, 1/4 or 1/8 while decoding, at a fraction of the memory and time.
            image.draft(image.mode, tuple(max(1, side // _reduction(stored_size)) for side in stored_size))
        image.load()
        turn = _upright(image)  # Read now: the shrunk copy has no EXIF.
        image = _shrink(image)
        image = image if turn is None else image.transpose(turn)
        image.info["original_size"] = stored_size[::-1] if turn in _QUARTER_TURNS else stored_size
        return image
    except Exception:
        raise ImageError(_damaged(name, image.format)) from None


def _open(data, name):
    """The image with its header read and its size within MAX_PIXELS, or ImageError."""
    limit = f"images up to {MAX_PIXELS // 1_000_000} megapixels are accepted"
    try:
        with warnings.catch_warnings():
            # Pillow warns on large images; the size check below says it in our words.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=FORMATS)  # Reads the header only.
    except Image.DecompressionBombError:
        # Pillow's own limit (about 179 megapixels) stops these before we see the size.
        pillow_limit = 2 * Image.MAX_IMAGE_PIXELS // 1_000_000
        raise ImageError(f"{name} has more than {pillow_limit} megapixels; {limit}.") from None
    except Exception:
        raise ImageError(f"{name} is not an image that can be read (PNG, JPEG, WebP, GIF, BMP or TIFF).") from None
    width, height = image.size
    if image.format == "WEBP" and width * height > WEBP_MAX_PIXELS:
        limit = f"WebP images up to {WEBP_MAX_PIXELS // 1_000_000} megapixels are accepted"
    elif width * height <= MAX_PIXELS:
        return image
    raise ImageError(f"{name} is {width}x{height} pixels ({math.ceil(width * height / 1e6)} megapixels); {limit}.")


def _damaged(name, format):
    kind = {"MPO": "JPEG", "WEBP": "WebP"}.get(format, format)  # MPO: a phone's multi-part JPEG.
    return f"{name} looks like a {kind} image but is damaged or incomplete; try saving it again."


def _jpeg_walk(data, name):
    """(scans, frame marker, frame header) of the first picture in a JPEG, walked from marker to marker as libjpeg
    reads them, so that a scan inside metadata (an EXIF thumbnail, a comment) or a later MPO frame is not counted.
    Refuses a file of more than JPEG_MAX_SCANS scans or JPEG_MAX_MARKERS markers without decoding it."""
    scans, frame, header, position = 0, None, b"", 2  # After the start-of-image marker.
    for _ in range(JPEG_MAX_MARKERS):
        found = _JPEG_MARKER.search(data, position)
        if found is None or data[found.end() - 1] == 0xD9:  # The end of the data, or of the first picture (EOI).
            return scans, frame, header
        marker, position = data[found.end() - 1], found.end()
        if marker not in _JPEG_SEGMENTS:
            continue
        length = int.from_bytes(data[position : position + 2], "big")
        if marker in _JPEG_FRAMES and frame is None:
            frame, header = marker, data[position + 2 : position + length]
        scans += marker == 0xDA
        if scans > JPEG_MAX_SCANS:
            raise ImageError(
                f"{name} is a JPEG in more than {JPEG_MAX_SCANS} scans (passes over the picture), "
                "too slow to decode; save it again as a regular JPEG."
            )
        position += max(length, 2)  # libjpeg reads a length below 2 as nothing to skip.
    raise ImageError(_damaged(name, "JPEG"))


def _check_jpeg_memory(size, scans, frame, header, name):
    """Refuses a progressive (or multi-scan) JPEG whose whole-image coefficient buffer exceeds the budget."""
    if scans < 2 and frame not in _JPEG_PROGRESSIVE:
        return  # One scan is decoded a band of rows at a time.
    factors = [(byte >> 4, byte & 15) for byte in header[7::3]]  # Each component's sampling factors (H, V).
    if not factors or min(min(pair) for pair in factors) < 1:
        return  # libjpeg refuses such a frame header itself.
    widest, tallest = max(h for h, _ in factors), max(v for _, v in factors)
    blocks = sum(math.ceil(size[0] * h / (8 * widest)) * math.ceil(size[1] * v / (8 * tallest)) for h, v in factors)
    if blocks * 128 > JPEG_MAX_COEFFICIENT_BYTES:  # 64 coefficients of 2 bytes a block.
        megapixels = math.ceil(size[0] * size[1] / 1e6)
        raise ImageError(
            f"{name} is a {megapixels}-megapixel progressive JPEG, which needs {blocks * 128 // 2**20} MB "
            "to decode; save it smaller or as a regular JPEG."
        )


def _reduction(size):
    """How many times smaller a picture can be decoded without the network or the preview losing anything."""
    width, height = size
    return max(1, min(width, height) // KEEP_SIDE, math.isqrt(width * height // KEEP_PIXELS))


def _shrink(image):
    """The image as RGB, converted a band of rows at a time so that the decoded pixels are the only full-size copy
    besides the result; reduced too (`_reduction` times) when that would not fit MAX_DECODE_BYTES."""
    width, height = image.size
    as_rgb = image.mode == "RGB" and "transparency" not in image.info
    full_size = width * height * (_BYTES_PER_PIXEL.get(image.mode, 4) + (0 if as_rgb else 4))
    factor = _reduction(image.size) if full_size > MAX_DECODE_BYTES else 1
    if factor == 1 and as_rgb:
        return image  # convert("RGB") would copy it.
    rows = factor * max(1, BAND_PIXELS // (width * factor))  # Whole boxes of the reduction in each band.
    bands = [(0, top, width, min(top + rows, height)) for top in range(0, height, rows)]
    value_range = _value_range(image, bands) if image.mode in _WIDE_MODES else None
    shrunk = Image.new("RGB", (-(-width // factor), -(-height // factor)))  # Partial boxes at the edges, as reduce().
    for box in bands:
        band = _to_rgb(image.crop(box), value_range)
        shrunk.paste(band if factor == 1 else band.reduce(factor), (0, box[1] // factor))
    return shrunk


def _upright(image):
    """The transpose that turns the stored pixels upright, or None."""
    # Not ImageOps.exif_transpose: it also rewrites the EXIF block, and fails on a slightly broken one.
    try:
        return _UPRIGHT.get(image.getexif().get(_ORIENTATION))
    except Exception:  # Unreadable EXIF: keep the pixels as stored rather than refuse the photo.
        return None


def _to_rgb(image, value_range=None):
    """RGB pixels of any mode; `value_range` (low, high) scales deep greyscale, else this image's own range."""
    if image.mode in _WIDE_MODES:
        image = _to_8_bits(image, value_range)
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        # Transparent pixels often store black; flattened onto white they look as the picture shows.
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image if image.mode == "RGBA" else image.convert("RGBA"))
    return image if image.mode == "RGB" else image.convert("RGB")  # No copy of what is RGB already.


def _to_8_bits(image, value_range=None):
    # 16-bit, 32-bit and float greyscale: Pillow's convert("L") clips everything above 255 to white,
    # so the used range (from 0, or from the lowest value if negative) is scaled to 8 bits instead.
    values = np.nan_to_num(np.asarray(image, dtype=np.float32))
    low, high = value_range or _extent(values)
    values -= low
    values *= 255.0 / ((high - low) or 1.0)
    return Image.fromarray(np.rint(values).astype(np.uint8))


def _extent(values):
    return min(float(values.min()), 0.0), float(values.max())


def _value_range(image, bands):
    """The (low, high) of `_extent` over the whole of a deep greyscale image, a band at a time."""
    extents = [_extent(np.nan_to_num(np.asarray(image.crop(box), dtype=np.float32))) for box in bands]
    return min(low for low, _ in extents), max(high for _, high in extents)


def to_network_input(image, size=IMAGE_SIZE):
    """Centre-crops to a square, then shrinks to size x size with area averaging, as uint8 (H, W, 3)."""
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    square = (left, top, left + side, top + side)  # Resized from where it is: a cropped copy could be 200 MB.
    # No reducing_gap: its coarse first step moves box edges by up to a sixth of an output pixel (10 levels of a
    # smooth photo), differently at each decoded size; plain BOX takes 70 ms even at 49 megapixels.
    return np.asarray(image.resize((size, size), Image.Resampling.BOX, square), dtype=np.uint8)


def load_upload(data, filename="the file"):
    """Bytes of an upload -> (the decoded RGB image, the 32x32 uint8 network input), at most DECODES at a time
    in the process, whatever the sessions asking."""
    with _decoding:
        image = decode_image(data, filename)
        return image, to_network_input(image)


def session_refusal(held_files, held_bytes, size):
    """The one sentence refusing an upload of `size` bytes to a browser session that holds `held_files` files of
    `held_bytes` on the server, or None when it fits SESSION_FILES and SESSION_BYTES."""
    if held_files + 1 <= SESSION_FILES and held_bytes + size <= SESSION_BYTES:
        return None
    return (
        f"The server keeps at most {SESSION_FILES} files ({SESSION_BYTES // 2**20} MB) from each browser, so the "
        "files past that were refused (marked in red): remove some uploads (their x) to add others."
    )
