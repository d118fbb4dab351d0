"""Pictures of what the network computes, as uint8 RGB arrays: colour maps, tiled feature maps
and filters, Grad-CAM overlays, receptive fields. NumPy only, so the app draws them instantly."""

import math

import numpy as np

from vgg.core.cifar10 import IMAGE_SIZE, NUM_CLASSES
from vgg.core.layers import conv_of

# Anchor colours of matplotlib's viridis (perceptually uniform, readable when projected).
VIRIDIS = (
    (68, 1, 84),
    (72, 40, 120),
    (62, 73, 137),
    (49, 104, 142),
    (38, 130, 142),
    (31, 158, 137),
    (53, 183, 121),
    (110, 206, 88),
    (181, 222, 43),
    (253, 231, 37),
)
# Blue-white-red for signed weights: white is zero.
DIVERGING = ((33, 102, 172), (146, 197, 222), (247, 247, 247), (244, 165, 130), (178, 24, 43))
# Black-red-yellow-white ("hot") for Grad-CAM: attention reads as heat.
HOT = ((0, 0, 0), (180, 0, 0), (255, 120, 0), (255, 230, 0), (255, 255, 255))


def _lookup_table(anchors):
    anchors = np.asarray(anchors, dtype=np.float64)
    positions = np.linspace(0, 1, len(anchors))
    levels = np.linspace(0, 1, 256)
    channels = [np.interp(levels, positions, anchors[:, channel]) for channel in range(3)]
    return np.stack(channels, axis=1).astype(np.uint8)


COLOR_MAPS = {"viridis": _lookup_table(VIRIDIS), "diverging": _lookup_table(DIVERGING), "hot": _lookup_table(HOT)}


def colorize(values, low=None, high=None, color_map="viridis"):
    """Maps an array of floats to RGB with a colour map; `low`/`high` fix the scale (default: the array's range)."""
    values = np.asarray(values, dtype=np.float64)
    low = values.min() if low is None else low
    high = values.max() if high is None else high
    scaled = (values - low) / (high - low) if high > low else np.zeros_like(values)
    indices = np.clip(np.round(scaled * 255), 0, 255).astype(np.uint8)
    return COLOR_MAPS[color_map][indices]


def enlarge(pixels, scale):
    """Nearest-neighbour upscaling: each pixel becomes a crisp scale x scale square."""
    return np.repeat(np.repeat(np.asarray(pixels), scale, axis=0), scale, axis=1)


def tile(images, columns, gap=2, background=255):
    """Lays equal-sized RGB images (N, H, W, 3) out in a grid with `gap` pixels between them."""
    images = np.asarray(images)
    count, height, width = images.shape[:3]
    columns = max(1, min(columns, count))
    rows = math.ceil(count / columns)
    grid = np.full((rows * (height + gap) - gap, columns * (width + gap) - gap, 3), background, dtype=np.uint8)
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        top, left = row * (height + gap), column * (width + gap)
        grid[top : top + height, left : left + width] = image
    return grid


def feature_map_grid(maps, count=16, shared_scale=True, target_size=96, columns=8):
    """The first `count` channels of a (H, W, C) activation as a viridis grid, each map enlarged
    to about `target_size` pixels. A shared scale compares channels; per-map scales show each one's pattern."""
    maps = np.asarray(maps)[..., :count]
    low, high = (maps.min(), maps.max()) if shared_scale else (None, None)
    scale = max(1, target_size // maps.shape[0])
    pictures = [enlarge(colorize(maps[..., channel], low, high), scale) for channel in range(maps.shape[-1])]
    return tile(pictures, columns=columns)


def strongest_channels(activation, count):
    """Indices of the `count` channels of an (H, W, C) activation with the largest mean response, strongest first."""
    return np.argsort(np.asarray(activation).mean(axis=(0, 1)))[::-1][:count]


def first_layer_filters(kernel, scale=24):
    """First-layer 3x3x3 kernels (3, 3, 3, N) as RGB squares, each stretched to its own range."""
    rgb = np.transpose(np.asarray(kernel), (3, 0, 1, 2))
    low = rgb.min(axis=(1, 2, 3), keepdims=True)
    high = rgb.max(axis=(1, 2, 3), keepdims=True)
    pictures = ((rgb - low) / np.maximum(high - low, 1e-12) * 255).astype(np.uint8)
    return tile([enlarge(picture, scale) for picture in pictures], columns=16, gap=8)


def deep_filters(kernel, count=32, scale=16):
    """Deeper kernels (3, 3, in, out): each filter's weights summed over its inputs, blue negative, red positive."""
    summed = np.asarray(kernel).sum(axis=2)[..., :count]
    bound = np.abs(summed).max() or 1.0
    pictures = [
        enlarge(colorize(summed[..., index], -bound, bound, "diverging"), scale) for index in range(summed.shape[-1])
    ]
    return tile(pictures, columns=16, gap=6)


def heatmap_overlay(image, heatmap, opacity=0.5):
    """Blends a [0, 1] heatmap, resized to the image, over an RGB image (H, W, 3)."""
    from PIL import Image

    image = np.asarray(image, dtype=np.uint8)
    heat = Image.fromarray((np.clip(heatmap, 0, 1) * 255).astype(np.uint8)).resize(
        (image.shape[1], image.shape[0]), Image.Resampling.BILINEAR
    )
    colored = COLOR_MAPS["hot"][np.asarray(heat)]
    return (image * (1 - opacity) + colored * opacity).astype(np.uint8)


def colour_channel(image, channel):
    """An (H, W, 3) image with only colour `channel` (0 red, 1 green, 2 blue) kept, the others black."""
    only = np.zeros_like(image)
    only[..., channel] = image[..., channel]
    return only


def receptive_fields(model):
    """{layer name: receptive field in input pixels} for the conv and pooling layers, from kernel sizes and strides."""
    return {name: field for name, (field, _, _) in receptive_field_geometry(model).items()}


def zero_channels(activation):
    """(channels that are zero everywhere, all channels) of an (H, W, C) activation: after a ReLU such a
    channel passes nothing on for this image, which is how a dead layer shows."""
    peaks = np.asarray(activation).reshape(-1, np.shape(activation)[-1]).max(axis=0)
    return int((peaks <= 0).sum()), int(peaks.size)


def receptive_field_text(field, image_size=IMAGE_SIZE):
    """A receptive field in input pixels for display: one as wide as the image or wider is shown as the
    image's size, since past its edges there is only zero padding to see."""
    return f"{image_size} px (the whole image)" if field >= image_size else f"{field} px"


def is_guessing(top_probability, num_classes=NUM_CLASSES):
    """Whether the likeliest class's probability is at most a fifth above one in `num_classes` (12% for 10
    classes): a model that has not learned to tell images apart gives about that for every image."""
    return top_probability <= 1.2 / num_classes


def heatmap_is_empty(heatmap):
    """Whether a Grad-CAM heatmap is zero everywhere: no region at its layer pushes towards the class, and an
    overlay would only darken the image."""
    return float(np.max(heatmap, initial=0.0)) <= 1e-6


def receptive_field_geometry(model):
    """{layer name: (field, jump, first centre)} for the conv and pooling layers: a unit at row y of the layer's
    output looks at `field` input rows centred on row `first centre + y * jump` (in pixel indices)."""
    field, jump, centre, geometry = 1, 1, 0.0, {}
    for layer in model.layers:
        kernel = getattr(layer, "kernel_size", None) or getattr(layer, "pool_size", None)
        if kernel is None:
            continue
        stride = getattr(layer, "strides", (1, 1))[0]
        # "same" padding keeps the centre where it was; a "valid" window's centre sits half a kernel in.
        pad = (kernel[0] - 1) // 2 if getattr(layer, "padding", "valid") == "same" else 0
        centre += ((kernel[0] - 1) / 2 - pad) * jump
        field += (kernel[0] - 1) * jump
        jump *= stride
        geometry[layer.name] = (field, jump, centre)
    return geometry


def receptive_field_box(geometry, layer_name, y, x, image_size=IMAGE_SIZE):
    """(top, left, bottom, right), bottom and right exclusive, of the input pixels unit (y, x) of `layer_name` looks
    at, clipped to the image; a ReLU's or batch norm's units look where their conv's do."""
    field, jump, centre = geometry[conv_of(layer_name)]
    top, left = (round(centre + index * jump - (field - 1) / 2) for index in (y, x))
    return (max(top, 0), max(left, 0), min(top + field, image_size), min(left + field, image_size))


def field_crop(image, geometry, layer_name, y, x, background=128):
    """The square of `image` that unit (y, x) of `layer_name` looks at, as large as its receptive field (at most
    the image), with grey where the field reaches past the image's edge."""
    image = np.asarray(image, dtype=np.uint8)
    size = image.shape[0]
    field, jump, centre = geometry[conv_of(layer_name)]
    if field >= size:
        return image
    top, left = (round(centre + index * jump - (field - 1) / 2) for index in (y, x))
    crop = np.full((field, field, 3), background, dtype=np.uint8)
    rows = slice(max(top, 0), min(top + field, size))
    columns = slice(max(left, 0), min(left + field, size))
    crop[rows.start - top : rows.stop - top, columns.start - left : columns.stop - left] = image[rows, columns]
    return crop


def outline(pixels, box, scale, color=(255, 214, 0), width=2):
    """An image enlarged `scale` times with a `width`-pixel frame around `box` (top, left, bottom, right) and
    the pixels outside it dimmed, so the framed region stands out on a projector."""
    picture = enlarge(np.asarray(pixels, dtype=np.uint8), scale).astype(np.float32)
    top, left, bottom, right = (value * scale for value in box)
    inside = np.zeros(picture.shape[:2], dtype=bool)
    inside[top:bottom, left:right] = True
    picture[~inside] *= 0.45
    frame = np.zeros_like(inside)
    frame[max(top - width, 0) : bottom + width, max(left - width, 0) : right + width] = True
    frame[top:bottom, left:right] = False
    picture[frame] = color
    return picture.astype(np.uint8)


def grid_overlay(image, grid, high, scale=6, opacity=0.6):
    """A (h, w) map of cells drawn as crisp squares over an RGB image (H, W, 3), "hot" from 0 to `high`, the whole
    enlarged `scale` times: nearest-neighbour, so an 8x8 map shows its 64 cells rather than a smooth blur."""
    image = np.asarray(image, dtype=np.uint8)
    grid = np.asarray(grid)
    if image.shape[0] % grid.shape[0] or image.shape[1] % grid.shape[1]:
        raise ValueError(f"The map's cells must tile the image. Received: grid={grid.shape}, image={image.shape}")
    cells = enlarge(colorize(grid, 0.0, high, "hot"), image.shape[0] // grid.shape[0])
    return enlarge((image * (1 - opacity) + cells * opacity).astype(np.uint8), scale)


def color_bar(width=192, height=12, color_map="hot"):
    """A horizontal colour scale, low at the left and high at the right, as an RGB image (height, width, 3)."""
    return np.repeat(COLOR_MAPS[color_map][np.linspace(0, 255, width).astype(np.uint8)][None], height, axis=0)


def channel_card(picture, crops, scale=3, crop_size=32, gap=2):
    """A channel's made-up picture (enlarged `scale` times) beside a 3x3 grid of its top images' crops, each
    resized to `crop_size` pixels, as one RGB image on white."""
    from PIL import Image

    resized = [
        np.asarray(
            Image.fromarray(np.asarray(crop, dtype=np.uint8)).resize((crop_size, crop_size), Image.Resampling.NEAREST)
        )
        for crop in crops
    ]
    grid = tile(resized, columns=3, gap=gap)
    left = enlarge(picture, scale)
    height = max(left.shape[0], grid.shape[0])
    card = np.full((height, left.shape[1] + 3 * gap + grid.shape[1], 3), 255, dtype=np.uint8)
    card[: left.shape[0], : left.shape[1]] = left
    card[: grid.shape[0], left.shape[1] + 3 * gap :] = grid
    return card
