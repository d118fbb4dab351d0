"""What an image is near, block by block: its nearest training images in each block's pooled feature space.

Each of VGG16's five blocks ends in a pooling layer; averaging that output over its height and width gives one
number per channel (32, 64, 128, 256 and 256 at width 0.5). The index holds those vectors, scaled to unit length,
for a class-balanced subset of the model's own training images, so a query is one matrix product per block
(cosine similarity). Block 1's neighbours tend to share colours and textures, block 5's the class.

The index is computed once per model file and training split and saved (float16, only image positions and
features: thumbnails and classes come from the dataset arrays), keyed by the model file's SHA-256 as
vgg/explain/evaluation.py keys its evaluations and kept in the same folder. The same pass ranks validation images
by their distance to the indexed ones, which calibrates how unfamiliar an upload is (vgg/explain/unfamiliar.py).

`python benchmarks/neighbours.py` times a build, the file's size and a query.
"""

import dataclasses
import threading
import time
import weakref

import numpy as np

from vgg.core.errors import UserError
from vgg.core.estimate import INDEX_IMAGES
from vgg.core.layers import BLOCKS
from vgg.data.cifar10 import balanced_subset
from vgg.explain.cache import cache_key, computed_once, load_arrays, save_arrays, saved_seconds, split_digest
from vgg.explain.unfamiliar import CALIBRATION_IMAGES, COMPARED_BLOCKS, Calibration, block_distances, calibrate
from vgg.explain.unfamiliar import unit as unit_rows

FORMAT = 2  # Bumped when the saved arrays change meaning; an older file is then built again.
NEIGHBOURS = 8
BATCH_SIZE = 250
VOTING_BLOCK = 5  # The last block's neighbours vote: its features are what the classifier reads.


class NeighbourError(UserError):
    """An index that cannot be built or asked; its message is one sentence."""


@dataclasses.dataclass(frozen=True, eq=False)
class NeighbourIndex:
    """Unit-length pooled features of some training images, per block. Shared by every session: read-only."""

    indices: np.ndarray  # (N,) positions of the indexed images in the dataset's x_train.
    features: tuple  # Per block, (N, channels) float32 rows of length 1 (0 for an image the block is silent on).
    labels: np.ndarray  # (N,) their classes, from the dataset (not saved).
    seconds: float  # How long computing the features took.
    calibration: Calibration | None = None  # How far validation images are: None without validation images.

    def __post_init__(self):
        for array in (self.indices, self.labels, *self.features):
            array.flags.writeable = False

    @property
    def channels(self):
        return tuple(block.shape[1] for block in self.features)

    @property
    def nbytes(self):
        return sum(array.nbytes for array in (self.indices, self.labels, *self.features))


@dataclasses.dataclass(frozen=True)
class BlockNeighbours:
    block: int  # 1 to 5.
    indices: np.ndarray  # (k,) positions in the dataset's x_train, nearest first.
    similarities: np.ndarray  # (k,) cosine similarities, from 1 (same direction) down.
    labels: np.ndarray  # (k,) their classes.
    silent: bool  # Every feature of the block is zero for the asked image: it is near nothing in particular.


@dataclasses.dataclass(frozen=True)
class Neighbours:
    blocks: tuple  # BlockNeighbours for blocks 1 to 5.
    vote: np.ndarray  # (classes,) how many of the voting block's neighbours are of each class.


_extractors = weakref.WeakKeyDictionary()
_extractors_lock = threading.Lock()


def feature_function(model):
    """A traced function from pixels (B, 32, 32, 3) to each block's pooled output averaged over its positions,
    [(B, channels)] for blocks 1 to 5; made once per model object."""
    import keras
    import tensorflow as tf

    from vgg.model.build import pool_layer_names

    with _extractors_lock:
        if model in _extractors:
            return _extractors[model]
        names = pool_layer_names(model)
        if len(names) != 5:
            raise NeighbourError(f"The model has {len(names)} pooling blocks instead of VGG's 5.")
        pooled = [keras.ops.mean(model.get_layer(name).output, axis=(1, 2)) for name in names]
        extractor = keras.Model(model.inputs, pooled)
        # No autograph, as in vgg.explain.predictor: nothing here branches on tensors.
        function = tf.function(lambda images: extractor(images, training=False), reduce_retracing=True, autograph=False)
        _extractors[model] = function
        return function


def pooled_features(model, images, progress=None):
    """Each block's pooled features of `images` (N, 32, 32, 3): [(N, channels) float32]; `progress(done, total)`
    after each batch."""
    import tensorflow as tf

    function = feature_function(model)
    parts = []
    for start in range(0, len(images), BATCH_SIZE):
        batch = np.asarray(images[start : start + BATCH_SIZE], dtype=np.float32)
        parts.append([output.numpy() for output in function(tf.constant(batch))])
        if progress:
            progress(min(start + BATCH_SIZE, len(images)), len(images))
    if not parts:
        raise NeighbourError("There are no training images to find neighbours among.")
    return [np.concatenate(block).astype(np.float32) for block in zip(*parts, strict=True)]


def image_features(model, pixels):
    """Each block's pooled features of one image (32, 32, 3): [(channels,)]."""
    return [block[0] for block in pooled_features(model, np.asarray(pixels)[None])]


def build_index(model, images, labels, indices=None, progress=None, validation=None):
    """The index of `images` (their positions in x_train are `indices`, default 0..N-1; their classes `labels`),
    calibrated on the `validation` images (None: not calibrated)."""
    if len(images) != len(labels):
        raise ValueError(f"images and labels must be as many. Received: images={len(images)}, labels={len(labels)}")
    started = time.perf_counter()
    validation = np.zeros((0, *np.shape(images)[1:]), np.uint8) if validation is None else np.asarray(validation)
    # One pass over both, so that the progress bar counts them together.
    both = pooled_features(model, np.concatenate([np.asarray(images), validation]), progress)
    # Rounded as saved: an index read back from its file then ranks an upload exactly as the built one did.
    features = tuple(unit_rows(block[: len(images)]).astype(np.float16).astype(np.float32) for block in both)
    calibration = calibrate(block_distances(features, [block[len(images) :] for block in both]))
    indices = np.arange(len(images)) if indices is None else np.asarray(indices)
    return NeighbourIndex(
        indices.astype(np.int64),
        features,
        np.asarray(labels, dtype=np.int64),
        time.perf_counter() - started,
        calibration,
    )


def query(index, features, k=NEIGHBOURS):
    """Per block the `k` indexed images nearest to an image with pooled `features` (from image_features), and the
    voting block's classes counted."""
    if len(features) != len(index.features):
        raise ValueError(f"features must have one vector per block. Received: {len(features)} vectors")
    blocks = []
    for block, (vectors, wanted) in enumerate(zip(index.features, features, strict=True), start=1):
        wanted = np.asarray(wanted, dtype=np.float32).reshape(-1)
        if wanted.shape != vectors.shape[1:]:
            raise ValueError(f"block {block} has {vectors.shape[1]} features. Received: {wanted.shape[0]}")
        # (N,): the cosine of every image, in one product; einsum keeps it on this thread, where BLAS's own threads
        # waited for a busy server's cores (BENCHMARKS.md, neighbours).
        similarities = np.einsum("nc,c->n", vectors, unit_rows(wanted))
        count = min(k, len(similarities))
        nearest = np.argpartition(-similarities, count - 1)[:count]
        nearest = nearest[np.argsort(-similarities[nearest], kind="stable")]
        blocks.append(
            BlockNeighbours(
                block, index.indices[nearest], similarities[nearest], index.labels[nearest], silent=not np.any(wanted)
            )
        )
    classes = max(int(index.labels.max(initial=0)) + 1, 1)
    vote = np.bincount(blocks[VOTING_BLOCK - 1].labels, minlength=classes)
    return Neighbours(tuple(blocks), vote)


def training_subset(labels, size=INDEX_IMAGES, seed=0):
    """Positions of `size` training images, the same number of every class (all of them when there are fewer)."""
    return balanced_subset(np.asarray(labels), size, seed)


def calibration_subset(dataset, seed=0):
    """Positions of the validation images an index is calibrated on, the same number of every class."""
    return balanced_subset(np.asarray(dataset.y_val), CALIBRATION_IMAGES, seed)


def data_id(dataset, validation_size, seed, indices):
    """A digest of the indexed images and those it is calibrated on: the split's source, size and seed, and the
    very images and classes."""
    calibration = calibration_subset(dataset)
    images = np.concatenate([dataset.x_train[indices], dataset.x_val[calibration]])
    labels = np.concatenate([dataset.y_train[indices], dataset.y_val[calibration]])
    return split_digest(dataset, validation_size, seed, images, labels, indices)


def index_key(model_path, data):
    """The key and file of a model's index of the training images digested as `data` (a data_id)."""
    return cache_key(model_path, "neighbours", data)


def save(key, index):
    """Writes `index` to key.file atomically (features as float16), and removes this model file's indexes from
    before it changed."""
    meta = {
        "format": FORMAT,
        "model_sha256": key.model_sha256,
        "data_id": key.detail,
        "channels": list(index.channels),
        "seconds": index.seconds,
        "threshold": index.calibration and index.calibration.threshold,
    }
    blocks = {f"block{block}": features.astype(np.float16) for block, features in enumerate(index.features, 1)}
    known = index.calibration.distances if index.calibration else [np.zeros(0, np.float32)] * len(COMPARED_BLOCKS)
    ranked = {f"calibration{block}": distances for block, distances in zip(COMPARED_BLOCKS, known, strict=True)}
    save_arrays(key, "neighbours", {"indices": index.indices, **blocks, **ranked}, meta, "the saved neighbour index")


def load_saved(key, dataset, indices):
    """The index saved at key.file for the training images at `indices`, or None when there is none or it is not
    exactly that (damaged, cut short, of other images or another model, or of an older format)."""
    expected = {"format": FORMAT, "model_sha256": key.model_sha256, "data_id": key.detail}
    names = ("indices", *(f"block{block}" for block in BLOCKS), *(f"calibration{block}" for block in COMPARED_BLOCKS))
    saved = load_arrays(key.file, expected, names)
    if saved is None:
        return None
    meta, arrays = saved
    features = [arrays[f"block{block}"] for block in BLOCKS]
    if not np.array_equal(arrays["indices"], indices) or meta.get("channels") != [f.shape[-1] for f in features]:
        return None
    if any(
        block.shape[0] != len(indices) or block.dtype.kind != "f" or not np.isfinite(block).all() for block in features
    ):
        return None
    return NeighbourIndex(
        np.asarray(indices, dtype=np.int64),
        tuple(block.astype(np.float32) for block in features),
        dataset.y_train[indices].astype(np.int64),
        saved_seconds(meta),
        saved_calibration(meta, arrays),
    )


def saved_calibration(meta, arrays):
    """The Calibration saved with an index, or None when it was built without validation images."""
    threshold = meta.get("threshold")
    distances = tuple(arrays[f"calibration{block}"].astype(np.float32) for block in COMPARED_BLOCKS)
    if not isinstance(threshold, float) or not all(len(block) for block in distances):
        return None
    return Calibration(distances, threshold)


def indexed(dataset, split):
    """(positions of the training images an index holds, their data_id) for `dataset` of split `split`
    ((validation size, seed)): the page, the command line and a finished run's preparation index the same ones."""
    indices = training_subset(dataset.y_train)
    return indices, data_id(dataset, *split, indices)


def index_for(model_path, dataset, split, get_model, progress=None):
    """As index_of, for the model file at `model_path` and `dataset`'s training images of split `split` ((validation
    size, seed)): what the command line, the benchmarks and a finished run's preparation ask for."""
    indices, data = indexed(dataset, split)
    return index_of(index_key(model_path, data), dataset, indices, get_model, progress)


def index_of(key, dataset, indices, get_model, progress=None):
    """(index, None), read back from key.file or else built with get_model() and saved; (index, one sentence)
    when it could not be saved. Sessions asking at once build it once: the others see its progress through
    `progress(done, total)`, then read the saved file."""
    return computed_once(
        key.file,
        lambda: load_saved(key, dataset, indices),
        lambda report: build_index(
            get_model(),
            dataset.x_train[indices],
            dataset.y_train[indices],
            indices,
            report,
            dataset.x_val[calibration_subset(dataset)],
        ),
        lambda index: save(key, index),
        progress,
        again="built again next time",
    )
