"""Small pictures with their captions as one HTML element: a grid that the browser lays out once.

Streamlit draws each st.image (and each column holding one) as elements of its own, fetched and laid out one by one:
a row of 8 nearest images or 16 channel cards cost a browser more than a table, and a class's browsers often share
the room's machines (BENCHMARKS.md, one Chromium's work per view). Here the pictures travel inline as PNG data
addresses, encoded once for every session, and captions are escaped, so a class folder's name stays text.
"""

import base64
import functools
import html
import io

import numpy as np
from PIL import Image

# Pictures are sent at their own size and enlarged by the browser with crisp pixels, as the app's CSS does for its
# images: JPEG would smudge so small a picture.
STYLE = (
    ".vgg-grid {display: grid; row-gap: 0.25rem;}"
    " .vgg-grid figure {margin: 0; min-width: 0; text-align: center;}"
    " .vgg-grid img {display: block; width: 100%; height: auto; image-rendering: pixelated;}"
    " .vgg-grid figcaption {font-size: 0.75rem; opacity: 0.7; white-space: nowrap;}"
)
# Encoded pictures kept for every session: a class opening one view asks for the same pictures 30 times. Each
# entry holds the pixels and their PNG text: about 100 kB for a channel card, 5 kB for a thumbnail, so at most 25 MB.
CACHED_PICTURES = 256


@functools.lru_cache(maxsize=CACHED_PICTURES)
def _address(raw, shape):
    buffer = io.BytesIO()
    Image.fromarray(np.frombuffer(raw, np.uint8).reshape(shape)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def png_address(pixels):
    """A uint8 picture, (H, W) or (H, W, 3), as a PNG data address."""
    if pixels.dtype != np.uint8:
        raise ValueError(f"Pictures are uint8 pixels. Received: dtype={pixels.dtype}")
    pixels = np.ascontiguousarray(pixels)
    return _address(pixels.tobytes(), pixels.shape)


def picture_grid(pictures, captions, columns, max_width=None, column_gap=0.5):
    """HTML of `pictures` (uint8 arrays) over their `captions`, in `columns` equal columns that fill the width, or
    stop at `max_width` pixels each, `column_gap` rem apart."""
    track = f"minmax(0, {int(max_width)}px)" if max_width else "minmax(0, 1fr)"
    figures = "".join(
        f'<figure><img src="{png_address(picture)}" alt="{html.escape(caption)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        for picture, caption in zip(pictures, captions, strict=True)
    )
    layout = f"grid-template-columns: repeat({int(columns)}, {track}); column-gap: {float(column_gap)}rem"
    return f'<style>{STYLE}</style><div class="vgg-grid" style="{layout}">{figures}</div>'
