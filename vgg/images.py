"""Turning whatever a user uploads into the 32x32 RGB image the network sees."""

import io
import warnings

import numpy as np
from PIL import Image, ImageOps

from vgg.errors import UserError

MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # Phone photos are 2-12 MB; more is not a photo.
MAX_PIXELS = 50_000_000  # A 50-megapixel photo decodes to 150 MB; larger files are refused before decoding.
INPUT_SIZE = 32


class ImageError(UserError, ValueError):
    """An upload that is not a usable image; its message is one sentence for the user."""


def decode_image(data, filename="the file"):
    """Decodes bytes to an RGB PIL image: first frame of animations, EXIF rotation applied,
    transparency flattened onto white, 16-bit and CMYK converted. Raises ImageError otherwise."""
    if not data:
        raise ImageError(f"{filename} is empty.")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageError(f"{filename} is {len(data) / 2**20:.0f} MB; images up to {MAX_UPLOAD_BYTES // 2**20} MB are accepted.")
    try:
        with warnings.catch_warnings():
            # Pillow warns, then raises, on decompression bombs; the size check below says it in our words.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ImageError(
                    f"{filename} is {width}x{height} pixels; images up to {MAX_PIXELS // 1_000_000} megapixels are accepted."
                )
            image.seek(0)  # The first frame of an animated GIF or WebP.
            image.load()
            image = ImageOps.exif_transpose(image)
            return _to_rgb(image)
    except ImageError:
        raise
    except Image.DecompressionBombError:
        raise ImageError(f"{filename} is too large to decode safely.") from None
    except Exception:
        raise ImageError(f"{filename} is not an image that can be read (PNG, JPEG, WebP, GIF or BMP).") from None


def _to_rgb(image):
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16- and 32-bit greyscale: scale the used range to 8 bits instead of clipping to white.
        values = np.asarray(image, dtype=np.float64)
        top = values.max() or 1.0
        image = Image.fromarray((values * (255.0 / top)).astype(np.uint8), mode="L")
    if image.mode == "F":
        values = np.nan_to_num(np.asarray(image, dtype=np.float64))
        span = (values.max() - values.min()) or 1.0
        image = Image.fromarray(((values - values.min()) * 255.0 / span).astype(np.uint8), mode="L")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "RGB" and "transparency" in image.info):
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image)
    return image.convert("RGB")


def to_network_input(image, size=INPUT_SIZE):
    """Centre-crops to a square, then shrinks to size x size with area averaging, as uint8 (H, W, 3)."""
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    square = image.crop((left, top, left + side, top + side))
    return np.asarray(square.resize((size, size), Image.Resampling.BOX, reducing_gap=3.0), dtype=np.uint8)


def enlarge(pixels, scale=8):
    """Nearest-neighbour upscaling: every pixel becomes a crisp scale x scale square."""
    return np.repeat(np.repeat(np.asarray(pixels), scale, axis=0), scale, axis=1)


def load_upload(data, filename="the file"):
    """Bytes of an upload -> (the decoded RGB image, the 32x32 uint8 network input)."""
    image = decode_image(data, filename)
    return image, to_network_input(image)
