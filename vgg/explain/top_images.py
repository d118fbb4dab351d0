"""The validation images that excite each channel most: for every conv layer and channel, the 9 images whose
strongest response in that channel's map is highest, with where in the map it was.

One pass over the validation split the Mistakes page scores (vgg/explain/evaluation.py `split_for`) computes every
layer at once; only (image index, y, x, value) of each channel's top 9 is kept, about 250 KB for the shipped
model, saved beside that split's evaluation and keyed like it by the model file's SHA-256 and the split.
"""

import dataclasses
import time

import numpy as np

from vgg.explain.cache import CacheKey, computed_once, load_arrays, save_arrays, saved_seconds
from vgg.explain.visualize import field_crop

TOP = 9  # Images per channel: a 3x3 grid of crops.
BATCH_SIZE = 250  # Images per forward pass: every layer's maps of a batch of 250 fit in about 150 MB.
FORMAT = 1  # Bumped when the saved arrays change meaning; older files are then computed again.
FIELDS = ("index", "y", "x", "value")


@dataclasses.dataclass(frozen=True)
class LayerTop:
    """One layer's top images, each array (TOP, channels), strongest first: the image's index in the split, the
    row and column of its strongest unit in the channel's map, and that unit's response."""

    index: np.ndarray
    y: np.ndarray
    x: np.ndarray
    value: np.ndarray


@dataclasses.dataclass(frozen=True)
class TopImages:
    layers: dict  # {activation layer name: LayerTop}
    images: int  # How many validation images were looked at.
    seconds: float  # How long computing them took.

    def crops(self, images, geometry, layer, channel):
        """The receptive-field crops of `channel`'s top images in `layer`, strongest first (images: the split's)."""
        top = self.layers[layer]
        return [
            field_crop(images[top.index[rank, channel]], geometry, layer, top.y[rank, channel], top.x[rank, channel])
            for rank in range(top.index.shape[0])
        ]


def peaks_function(model, layer_names):
    """A traced function from a batch of images to, per layer, each channel's strongest response (B, C) and its
    flat position in the map (B, C)."""
    import keras
    import tensorflow as tf

    features = keras.Model(model.inputs[0], [model.get_layer(name).output for name in layer_names])

    @tf.function(autograph=False, reduce_retracing=True)
    def peaks(images):
        outputs = features(images, training=False)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        flat = [tf.reshape(maps, (tf.shape(maps)[0], -1, maps.shape[-1])) for maps in outputs]  # (B, H*W, C)
        return [(tf.reduce_max(maps, axis=1), tf.argmax(maps, axis=1, output_type=tf.int32)) for maps in flat]

    return peaks


def merge(best, values, positions, start):
    """The running top (value, index, position) arrays, each (<=TOP, C), merged with a batch's (B, C) whose first
    image is `start`; equal values keep the earlier image first."""
    indices = np.broadcast_to(np.arange(start, start + len(values))[:, None], values.shape)
    value = np.concatenate([best[0], values])
    index = np.concatenate([best[1], indices])
    position = np.concatenate([best[2], positions])
    order = np.argsort(-value, axis=0, kind="stable")[:TOP]
    return tuple(np.take_along_axis(array, order, axis=0) for array in (value, index, position))


def compute(model, images, progress=None, batch_size=BATCH_SIZE):
    """TopImages of every conv activation of `model` over `images` (N, 32, 32, 3); `progress(done, total)` after
    each batch."""
    from vgg.model.build import activation_layer_names

    if len(images) == 0:
        raise ValueError(f"images must hold at least one image. Received: images of shape {np.shape(images)}")
    names = activation_layer_names(model)
    peaks = peaks_function(model, names)
    started = time.perf_counter()
    best = {name: None for name in names}
    for start in range(0, len(images), batch_size):
        batch = np.asarray(images[start : start + batch_size], dtype=np.float32)
        for name, (values, positions) in zip(names, peaks(batch), strict=True):
            values, positions = values.numpy(), positions.numpy()
            channels = values.shape[1]
            running = best[name] or (
                np.zeros((0, channels), np.float32),
                np.zeros((0, channels), np.int64),
                np.zeros((0, channels), np.int32),
            )
            best[name] = merge(running, values, positions, start)
        if progress:
            progress(min(start + batch_size, len(images)), len(images))
    layers = {}
    for name, (value, index, position) in best.items():
        width = int(model.get_layer(name).output.shape[2])
        layers[name] = LayerTop(
            index.astype(np.int32),
            (position // width).astype(np.int16),
            (position % width).astype(np.int16),
            value.astype(np.float32),
        )
    return TopImages(layers, len(images), time.perf_counter() - started)


def cache_file(key):
    """Where the top images of the model and split of an evaluation key are saved: beside that evaluation."""
    return key.file.with_name(key.file.name.replace(".evaluation-", ".top-images-"))


def _arrays(top):
    return {f"{name}.{field}": getattr(layer, field) for name, layer in top.layers.items() for field in FIELDS}


def _from_arrays(arrays, names, images, seconds):
    """TopImages from saved arrays, or None when they do not fit this model and split."""
    layers = {}
    for name in names:
        layer = LayerTop(*(arrays[f"{name}.{field}"] for field in FIELDS))
        shapes = {getattr(layer, field).shape for field in FIELDS}
        if len(shapes) != 1 or layer.index.size == 0 or not 0 <= layer.index.min() <= layer.index.max() < images:
            return None
        layers[name] = layer
    return TopImages(layers, images, seconds)


def top_images_of(key, model_names, images, get_model, progress=None):
    """(TopImages, None) for the model and split of evaluation key `key` (model_names: its activation layers,
    images: the split's), read back or else computed with get_model() and saved; (TopImages, one sentence)
    when they could not be saved."""
    top_key = CacheKey(key.model_sha256, key.detail, cache_file(key))
    expected = {
        "format": FORMAT,
        "model_sha256": key.model_sha256,
        "split_id": key.detail,
        "layers": list(model_names),
        "images": len(images),
    }
    names = [f"{name}.{field}" for name in model_names for field in FIELDS]

    def load():
        saved = load_arrays(top_key.file, expected, names)
        return saved and _from_arrays(saved[1], model_names, len(images), saved_seconds(saved[0]))

    def save(top):
        save_arrays(top_key, "top-images", _arrays(top), expected | {"seconds": top.seconds}, "the saved top images")

    return computed_once(top_key.file, load, lambda report: compute(get_model(), images, report), save, progress)
