"""Turning whatever a user uploads into the 32x32 RGB image the network sees."""

import io
import math
import warnings

import numpy as np
from PIL import Image

from vgg.errors import UserError

MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # Phone photos are 2-12 MB; more is not a photo.
UPLOAD_TYPES = ["png", "jpg", "jpeg", "webp", "gif", "bmp"]  # What the upload widgets offer; decoding accepts more.
MAX_PIXELS = 50_000_000  # A 50-megapixel photo decodes to 150 MB; larger files are refused before decoding.
INPUT_SIZE = 32
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


class ImageError(UserError, ValueError):
    """An upload that is not a usable image; its message is one sentence for the user."""


def decode_image(data, filename="the file"):
    """Decodes bytes to an RGB PIL image: first frame of animations, EXIF rotation applied,
    transparency flattened onto white, 16-bit and CMYK converted. Raises ImageError otherwise."""
    name = " ".join(str(filename).split()) or "the file"  # A newline in a file name would split the sentence.
    if not data:
        raise ImageError(f"{name} is empty.")
    if len(data) > MAX_UPLOAD_BYTES:
        megabytes = math.ceil(len(data) / 2**20 * 10) / 10  # Rounded up: "20.0 MB" would look accepted.
        raise ImageError(f"{name} is {megabytes:.1f} MB; images up to {MAX_UPLOAD_BYTES // 2**20} MB are accepted.")
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
    if width * height > MAX_PIXELS:
        raise ImageError(f"{name} is {width}x{height} pixels ({math.ceil(width * height / 1e6)} megapixels); {limit}.")
    try:
        image.seek(0)  # The first frame of an animated GIF, WebP or PNG.
        image.load()
        return _to_rgb(_upright(image))
    except Exception:
        kind = {"MPO": "JPEG", "WEBP": "WebP"}.get(image.format, image.format)  # MPO: a phone's multi-part JPEG.
        message = f"{name} looks like a {kind} image but is damaged or incomplete; try saving it again."
        raise ImageError(message) from None


def _upright(image):
    # Not ImageOps.exif_transpose: it also rewrites the EXIF block, and fails on a slightly broken one.
    try:
        method = _UPRIGHT.get(image.getexif().get(_ORIENTATION))
    except Exception:  # Unreadable EXIF: keep the pixels as stored rather than refuse the photo.
        return image
    return image if method is None else image.transpose(method)


def _to_rgb(image):
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        # 16-bit, 32-bit and float greyscale: Pillow's convert("L") clips everything above 255 to white,
        # so the used range (from 0, or from the lowest value if negative) is scaled to 8 bits instead.
        values = np.nan_to_num(np.asarray(image, dtype=np.float32))
        low = min(float(values.min()), 0.0)
        span = (float(values.max()) - low) or 1.0
        values -= low
        values *= 255.0 / span
        image = Image.fromarray(np.rint(values).astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        # Transparent pixels often store black; flattened onto white they look as the picture shows.
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image.convert("RGBA"))
    return image.convert("RGB")


def to_network_input(image, size=INPUT_SIZE):
    """Centre-crops to a square, then shrinks to size x size with area averaging, as uint8 (H, W, 3)."""
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    square = image.crop((left, top, left + side, top + side))
    return np.asarray(square.resize((size, size), Image.Resampling.BOX, reducing_gap=3.0), dtype=np.uint8)


def load_upload(data, filename="the file"):
    """Bytes of an upload -> (the decoded RGB image, the 32x32 uint8 network input)."""
    image = decode_image(data, filename)
    return image, to_network_input(image)
