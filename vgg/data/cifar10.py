"""CIFAR-10: from Keras' download or from a local image folder, cached, split and augmented."""

import dataclasses
import hashlib
import os
import pathlib

import numpy as np

from vgg.core.cifar10 import (
    CLASS_NAMES,  # noqa: F401 (the data's names, for its importers)
    NUM_CLASSES,
)
from vgg.core.config import DEFAULT_SPLIT
from vgg.core.errors import UserError
from vgg.core.files import WriteError, replacing

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
DATA_DIR_VARIABLE = "VGG_DATA_DIR"
CACHE_DIR_VARIABLE = "VGG_CACHE_DIR"
PAD = 4  # Pixels of zero padding around an image before the random 32x32 crop.
CUTOUT_SIZES = (0, 4, 8, 12, 16)  # Cutout squares the pages offer; 16 is the cutout paper's choice for CIFAR-10.


class DataError(UserError):
    """Data that cannot be loaded; its message is one sentence saying what to do."""


@dataclasses.dataclass
class Dataset:
    x_train: np.ndarray  # uint8, (N, 32, 32, 3)
    y_train: np.ndarray  # int64 class indices, (N,)
    x_val: np.ndarray
    y_val: np.ndarray
    class_names: tuple
    source: str  # Where the images came from, said in one line for the UI.


def default_data_dir():
    """The local image folder named by VGG_DATA_DIR, or None for Keras' download."""
    return os.environ.get(DATA_DIR_VARIABLE) or None


def cache_dir():
    default = pathlib.Path.home() / ".cache" / "vgg16lab"
    return pathlib.Path(os.environ.get(CACHE_DIR_VARIABLE) or default)


def load_cifar10(data_dir=None, validation_size=DEFAULT_SPLIT[0], seed=DEFAULT_SPLIT[1]):
    """Loads CIFAR-10 as uint8 arrays with a validation split.

    With no `data_dir` (and no VGG_DATA_DIR) this is Keras' own download, whose test split
    serves as validation. A local folder `root/train/<class>/*.jpg` is decoded once and
    cached; without `root/test/`, a seeded class-balanced validation split is held out.
    """
    data_dir = data_dir or default_data_dir()
    if data_dir:
        return _load_image_folder(pathlib.Path(data_dir), validation_size, seed)
    return _load_keras_download()


def _load_keras_download():
    import keras

    try:
        (x_train, y_train), (x_val, y_val) = keras.datasets.cifar10.load_data()
    except Exception as error:
        raise DataError(
            "Could not download CIFAR-10 (no network?); point VGG_DATA_DIR or --data-dir at a local "
            f"copy laid out as root/train/<class>/*.jpg instead ({type(error).__name__})."
        ) from None
    return Dataset(
        x_train,
        y_train.reshape(-1).astype(np.int64),
        x_val,
        y_val.reshape(-1).astype(np.int64),
        CLASS_NAMES,
        "CIFAR-10 from Keras' download (validation = the official test split)",
    )


def _load_image_folder(root, validation_size, seed):
    train_dir = root / "train"
    if not train_dir.is_dir():
        raise DataError(f"{root} has no train/ folder; a local copy must be laid out as root/train/<class>/*.jpg.")
    x_train, y_train, class_names = read_image_folder(train_dir)
    test_dir = root / "test"
    if test_dir.is_dir():
        x_val, y_val, test_classes = read_image_folder(test_dir)
        if test_classes != class_names:
            raise DataError(f"{test_dir} has other classes than {train_dir}.")
        source = f"local folder {root} (validation = its test/ folder)"
    else:
        # Small folders (a class's own photos, the tests' images) keep at most a fifth for validation.
        validation_size = min(validation_size, len(y_train) // 5)
        train_index, val_index = balanced_split(y_train, validation_size, seed)
        x_val, y_val = x_train[val_index], y_train[val_index]
        x_train, y_train = x_train[train_index], y_train[train_index]
        source = f"local folder {root} ({len(y_val)} training images held out for validation, seed {seed})"
    return Dataset(x_train, y_train, x_val, y_val, class_names, source)


def _class_folders(split_dir):
    names = sorted(entry.name for entry in os.scandir(split_dir) if entry.is_dir() and not entry.name.startswith("."))
    # CIFAR-10's own label order when the folders are its classes, so labels match Keras' download.
    if sorted(CLASS_NAMES) == names:
        return CLASS_NAMES
    return tuple(names)


def _list_images(split_dir, class_names):
    files = []
    for label, name in enumerate(class_names):
        entries = sorted(
            (entry for entry in os.scandir(split_dir / name) if entry.name.lower().endswith(IMAGE_SUFFIXES)),
            key=lambda entry: entry.name,
        )
        files.extend((entry, label) for entry in entries)
    return files


def read_image_folder(split_dir):
    """Decodes `split_dir/<class>/*` to uint8 arrays, through a cache keyed by the files' names, sizes and times."""
    split_dir = pathlib.Path(split_dir)
    class_names = _class_folders(split_dir)
    if not class_names:
        raise DataError(f"{split_dir} has no class folders.")
    files = _list_images(split_dir, class_names)
    if not files:
        raise DataError(f"{split_dir} has no .png or .jpg images in its class folders.")
    key = hashlib.sha256(str(split_dir.resolve()).encode())
    for entry, label in files:
        stat = entry.stat()
        key.update(f"{label}/{entry.name}/{stat.st_size}/{stat.st_mtime_ns}\n".encode())
    cache_file = cache_dir() / f"images-{key.hexdigest()[:24]}.npz"
    if cache_file.exists():
        try:
            with np.load(cache_file) as cached:
                return cached["images"], cached["labels"], class_names
        except Exception:
            pass  # A cache left half-written by a crash is rebuilt below.
    images = np.stack([_decode_32x32(entry.path) for entry, _ in files])
    labels = np.array([label for _, label in files], dtype=np.int64)
    _write_cache(cache_file, images, labels)
    return images, labels, class_names


def _decode_32x32(path):
    from PIL import Image

    try:
        with Image.open(path) as image:
            image = image.convert("RGB")
            if image.size != (32, 32):
                image = image.resize((32, 32), Image.Resampling.BOX)
            return np.asarray(image, dtype=np.uint8)
    except Exception as error:
        raise DataError(f"{path} is not a readable image ({type(error).__name__}).") from None


def _write_cache(cache_file, images, labels):
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        with replacing(cache_file, "the image cache") as temporary, open(temporary, "wb") as file:
            # Uncompressed, so that loading 50,000 images again takes a fraction of a second.
            np.savez(file, images=images, labels=labels)
    except (OSError, WriteError):
        pass  # A read-only or full disk only costs the next start the decoding time.


def balanced_split(labels, validation_size, seed):
    """Indices (train, validation): the same share of every class held out, chosen with `seed`."""
    classes = np.unique(labels)
    if validation_size <= 0:
        return np.arange(len(labels)), np.array([], dtype=np.int64)
    # At least one image of each class, or validation could not say anything about that class.
    per_class = max(1, validation_size // len(classes))
    if per_class >= min(np.bincount(labels)[classes]):
        raise DataError(
            f"Cannot hold out {validation_size} validation images from {len(labels)} in {len(classes)} classes."
        )
    rng = np.random.default_rng(seed)
    validation = np.concatenate([rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in classes])
    train_mask = np.ones(len(labels), dtype=bool)
    train_mask[validation] = False
    return np.flatnonzero(train_mask), np.sort(validation)


def balanced_subset(labels, size, seed):
    """Indices of `size` examples, the same number from every class, chosen with `seed`."""
    if not size or size >= len(labels):
        return np.arange(len(labels))
    _, index = balanced_split(labels, size, seed + 1)
    return index


# Fixed rather than autotuned (see make_tf_dataset): augmenting a batch takes a few milliseconds against a
# training step's hundreds, so two threads and two batches ahead keep the model fed.
PIPELINE_THREADS = 2
PREFETCH_BATCHES = 2


def augment_batch(images, seed, cutout_size=0, flips=None):
    """Random crop with 4-pixel zero padding and random horizontal flip, for a batch (B, H, W, C);
    with `cutout_size`, also a random square of that side set to zero (it may hang off the edge).
    `flips` (B booleans) says which images to flip instead of a coin per image.

    Stateless: the same seed (a pair of integers) gives the same crops and flips, so the
    Data page's preview shows exactly what training does.
    """
    import tensorflow as tf

    images = tf.convert_to_tensor(images)
    batch = tf.shape(images)[0]
    height, width = images.shape[1], images.shape[2]
    padded = tf.pad(images, [[0, 0], [PAD, PAD], [PAD, PAD], [0, 0]])
    seed = tf.cast(seed, tf.int64)
    offsets = tf.random.stateless_uniform([batch, 2], seed=seed, maxval=2 * PAD + 1, dtype=tf.int32)
    rows = offsets[:, :1] + tf.range(height)[None, :]
    columns = offsets[:, 1:] + tf.range(width)[None, :]
    cropped = tf.gather(padded, rows, axis=1, batch_dims=1)
    cropped = tf.gather(cropped, columns, axis=2, batch_dims=1)
    flip = tf.random.stateless_uniform([batch], seed=seed + 1) < 0.5 if flips is None else flips
    augmented = tf.where(flip[:, None, None, None], tf.reverse(cropped, axis=[2]), cropped)
    if not cutout_size:
        return augmented
    # Centres anywhere in the image, as in the paper, so some squares are partly outside: the
    # network also sees images with less hidden.
    centre_rows = tf.random.stateless_uniform([batch, 1], seed=seed + 2, maxval=height, dtype=tf.int32)
    centre_columns = tf.random.stateless_uniform([batch, 1], seed=seed + 3, maxval=width, dtype=tf.int32)
    top = centre_rows - cutout_size // 2
    left = centre_columns - cutout_size // 2
    inside_rows = (tf.range(height)[None, :] >= top) & (tf.range(height)[None, :] < top + cutout_size)
    inside_columns = (tf.range(width)[None, :] >= left) & (tf.range(width)[None, :] < left + cutout_size)
    hidden = inside_rows[:, :, None, None] & inside_columns[:, None, :, None]
    return tf.where(hidden, tf.zeros_like(augmented), augmented)


def training_dataset(config, images, labels):
    """The shuffled, augmented batches a run with settings `config` trains on: the trainer's, and the bench's."""
    return make_tf_dataset(
        images,
        labels,
        config.batch_size,
        augment=config.augment,
        shuffle=True,
        seed=config.seed,
        cutout_size=config.cutout_size,
        alternate_flips=config.alternate_flips,
    )


def make_tf_dataset(
    images,
    labels,
    batch_size,
    num_classes=NUM_CLASSES,
    augment=False,
    shuffle=False,
    seed=0,
    one_hot=True,
    cutout_size=0,
    alternate_flips=False,
):
    """A tf.data pipeline of (float32 pixels 0-255, one-hot labels), augmented on the fly; with
    `alternate_flips`, each image is flipped in every other pass over the dataset (see `_flip_parity`)."""
    import tensorflow as tf

    # With alternating flips, each image carries whether the first pass flips it.
    first_flips = (np.random.default_rng([seed, 1]).random(len(labels)) < 0.5,) if augment and alternate_flips else ()
    dataset = tf.data.Dataset.from_tensor_slices((images, labels, *first_flips))
    if shuffle:
        dataset = dataset.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    # Training drops the last partial batch: a new batch shape would make XLA compile again.
    dataset = dataset.batch(batch_size, drop_remainder=shuffle and len(labels) > batch_size)
    if augment:
        seeds = tf.data.Dataset.random(seed=seed).batch(2)
        if first_flips:
            dataset = _alternately_flipped(dataset, seeds, cutout_size)
        else:
            dataset = tf.data.Dataset.zip((dataset, seeds)).map(
                lambda batch, batch_seed: (augment_batch(batch[0], batch_seed, cutout_size), batch[1]),
                num_parallel_calls=PIPELINE_THREADS,
            )

    def to_model_inputs(pixels, classes):
        targets = tf.one_hot(classes, num_classes) if one_hot else classes
        return tf.cast(pixels, tf.float32), targets

    dataset = dataset.map(to_model_inputs, num_parallel_calls=PIPELINE_THREADS).prefetch(PREFETCH_BATCHES)
    # Autotuning's thread wakes at doubling intervals, and an iterator's end can wait for its next wake: a
    # validation pass took 1.7x as long with it (benchmarks/iterator_wait.py).
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


def _alternately_flipped(batches, seeds, cutout_size):
    """Batches of (pixels, labels, first-pass flips) augmented with each image flipped in every other pass."""
    import tensorflow as tf

    def augment_one(batch, batch_seed, odd_pass):
        flips = tf.not_equal(batch[2], odd_pass)
        return augment_batch(batch[0], batch_seed, cutout_size, flips), batch[1]

    augmented = tf.data.Dataset.zip((batches, seeds, _flip_parity())).map(
        augment_one, num_parallel_calls=PIPELINE_THREADS
    )
    # The parity stream's length is unknown to tf.data; Keras needs the epoch's to end it without a warning.
    return augmented.apply(tf.data.experimental.assert_cardinality(batches.cardinality()))


def _flip_parity():
    """An endless stream of one boolean, false in the first pass over a dataset it is zipped with, true in the
    second, and so on: each pass starts a new iterator, whose first element counts it.

    airbench's alternating flips: an image flipped in one epoch is not in the next, so any two epochs show
    every image both ways, where a coin per image leaves a quarter of them unseen one way.
    """
    import tensorflow as tf

    passes = tf.Variable(-1, dtype=tf.int64, trainable=False)
    count = tf.data.Dataset.from_tensors(0).map(lambda _: passes.assign_add(1) % 2 == 1)
    return count.flat_map(lambda odd: tf.data.Dataset.from_tensors(odd).repeat())


def draw_per_class(labels, classes, per_class, seed, page=0):
    """{class label: indices of its `page`-th `per_class` images} in a seeded random order of each class."""
    rng = np.random.default_rng(seed)
    # Every class's order is drawn, chosen or not, so a class shows the same images whatever else is chosen.
    orders = [rng.permutation(np.flatnonzero(labels == label)) for label in range(int(labels.max()) + 1)]
    return {label: orders[label][page * per_class : (page + 1) * per_class] for label in classes}


def colourfulness(images):
    """How colourful each image (N, H, W, 3) is (Hasler and Süsstrunk, 2003): near 0 for a grey one."""
    pixels = np.asarray(images, dtype=np.float64).reshape(len(images), -1, 3)
    red_green = pixels[..., 0] - pixels[..., 1]
    yellow_blue = (pixels[..., 0] + pixels[..., 1]) / 2 - pixels[..., 2]
    spread = np.hypot(red_green.std(axis=1), yellow_blue.std(axis=1))
    return spread + 0.3 * np.hypot(red_green.mean(axis=1), yellow_blue.mean(axis=1))


def augment_examples(image, count, seed, cutout_size=0):
    """`count` augmented copies of one image (H, W, C), and for each a list of what was done to it.

    NumPy, so that showing augmentation needs no TensorFlow; the same recipe as `augment_batch`
    (a mirror half the time, a random crop of the image padded by PAD black pixels, a cutout square
    that may hang off the edge), with the flip drawn first so that the words read in the order applied.
    """
    image = np.asarray(image)
    height, width = image.shape[:2]
    rng = np.random.default_rng(seed)
    copies, changes = [], []
    for _ in range(count):
        flipped = bool(rng.random() < 0.5)
        padded = np.pad(image[:, ::-1] if flipped else image, ((PAD, PAD), (PAD, PAD), (0, 0)))
        top, left = (int(offset) for offset in rng.integers(0, 2 * PAD + 1, size=2))
        copy = padded[top : top + height, left : left + width].copy()
        done = ["flipped"] if flipped else []
        shift = _shift_words(right=PAD - left, down=PAD - top)
        done += [shift] if shift else []
        if cutout_size:
            copy[_cutout_square(rng, height, width, cutout_size)] = 0
            done.append("cutout")
        copies.append(copy)
        changes.append(done)
    return np.stack(copies), changes


def _shift_words(right, down):
    """'shifted 3 px right, 1 px up' for a shift of the picture's content, or None when it did not move."""
    parts = [f"{abs(right)} px {'right' if right > 0 else 'left'}"] if right else []
    parts += [f"{abs(down)} px {'down' if down > 0 else 'up'}"] if down else []
    return "shifted " + ", ".join(parts) if parts else None


def _cutout_square(rng, height, width, size):
    """Slices of a size x size square centred on a random pixel, cut off at the edges as in `augment_batch`."""
    row, column = int(rng.integers(0, height)), int(rng.integers(0, width))
    top, left = row - size // 2, column - size // 2
    return slice(max(0, top), top + size), slice(max(0, left), left + size)
