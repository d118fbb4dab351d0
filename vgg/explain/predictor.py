"""Trusted model loading and the fast paths the app calls on every click:
probabilities, feature maps of every block, Grad-CAM."""

import collections
import contextlib
import pathlib
import zipfile

import keras
import numpy as np
import tensorflow as tf

from vgg.core.cifar10 import NUM_CLASSES
from vgg.core.errors import UserError
from vgg.core.paths import ASSETS_DIR, default_runs_dir
from vgg.data.cifar10 import CLASS_NAMES, DataError
from vgg.explain.attention import BLOCKS, AttentionMaps, is_empty, upsample
from vgg.explain.neighbours import NeighbourError, image_features
from vgg.explain.visualize import heatmap_is_empty
from vgg.model.build import activation_layer_names, pool_layer_names
from vgg.runs.record import ModelRecord

SCORING_BATCH = 500  # Images per forward pass when scoring a split: a few hundred MB of maps at full width.

Prediction = collections.namedtuple("Prediction", "index name probability")
MAX_MODEL_BYTES = 600 * 1024 * 1024  # The blog model with Adam's state is about 400 MB.


class ModelError(UserError):
    """A model that cannot be loaded; its message is one sentence for the user."""


def trusted_model_path(path, runs_dir=None):
    """`path` if it is a .keras file inside the runs folder (None: the default one) or assets/, else ModelError.

    Only files this project saved itself are opened, since a model file can carry code.
    """
    path = pathlib.Path(path)
    # The suffix of the file itself, not of a link to it: Keras picks its loader (HDF5 for .h5) by the target.
    resolved = path.resolve()
    if path.suffix != ".keras" or resolved.suffix != ".keras":
        raise ModelError(f"Only .keras model files are loaded. Received: {path.name}")
    roots = [pathlib.Path(runs_dir or default_runs_dir()).resolve(), ASSETS_DIR.resolve()]
    if not any(resolved.is_relative_to(root) for root in roots):
        raise ModelError(f"{path} is outside the runs folder and assets/; only the project's own models are loaded.")
    if not resolved.is_file():
        raise ModelError(f"There is no model file at {path}.")
    if resolved.stat().st_size > MAX_MODEL_BYTES:
        raise ModelError(f"{path.name} is larger than {MAX_MODEL_BYTES // 2**20} MB.")
    if not zipfile.is_zipfile(resolved):
        raise ModelError(f"{path.name} is not a readable Keras model (a .keras file is a zip archive).")
    return resolved


def load_model(path, runs_dir=None):
    """Loads a project model with Keras safe mode on (no deserialized Python code)."""
    path = trusted_model_path(path, runs_dir)
    try:
        return keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as error:
        # Safe mode's refusal names `safe_mode` in a paragraph; the file is intact but carries code,
        # and "not readable" would send the user looking for corruption instead.
        if "safe_mode" in str(error):
            raise ModelError(
                f"{path.name} contains Python code (such as a Lambda layer) and is refused, "
                "since loading it could run that code."
            ) from None
        raise ModelError(f"{path.name} is not a readable Keras model ({type(error).__name__}).") from None


class Predictor:
    """Wraps a model with traced, cached functions: after the first call each answers in milliseconds.

    With `flip_average` (the default), class probabilities are the mean over the image and its mirror
    image, as in the VGG paper's evaluation (Simonyan & Zisserman, section 3.2). Use it for models
    trained with random flips (`ModelRecord.flip_average`): both views are equally familiar to them, and
    their mean is more often right.
    """

    def __init__(self, model, flip_average=True, class_names=CLASS_NAMES, source=None):
        self.model = model
        self.source = source  # What it was loaded from (a file and its version): a key for cached answers.
        self.flip_average = flip_average
        self.class_names = tuple(class_names)
        self.activation_names = activation_layer_names(model)
        self.pool_names = pool_layer_names(model)
        outputs = [model.get_layer(name).output for name in self.activation_names + self.pool_names]
        self._feature_model = keras.Model(model.inputs, outputs)
        self._attention = None  # vgg.explain.attention.AttentionMaps, traced on first use.
        # No autograph: these functions have no tensor-dependent Python control flow, and autograph
        # re-reads source files, which fails in a long run whose files changed on disk.
        self._probabilities = tf.function(self._mean_over_views, reduce_retracing=True, autograph=False)
        self._features = tf.function(
            lambda images: self._feature_model(images, training=False), reduce_retracing=True, autograph=False
        )

    def _mean_over_views(self, images):
        if not self.flip_average:
            return self.model(images, training=False)
        # One call on both views: a batch of two costs little more than one image.
        both = self.model(tf.concat([images, tf.reverse(images, axis=[2])], axis=0), training=False)
        original, mirrored = tf.split(both, 2, axis=0)
        return (original + mirrored) / 2

    @staticmethod
    def _batch(images):
        images = np.asarray(images, dtype=np.float32)
        return images[None] if images.ndim == 3 else images

    def probabilities(self, images):
        """Class probabilities, (N, classes), for uint8 or float pixels (N, 32, 32, 3) or one image."""
        return self._probabilities(tf.constant(self._batch(images))).numpy()

    @classmethod
    def for_file(cls, path, runs_dir, version=None):
        """A Predictor for a project model file, predicting as its record says it was trained; `version` (the
        file's modification time) tells two saves of one checkpoint apart in `source`."""
        record = ModelRecord.of(path)
        return cls(
            load_model(path, runs_dir),
            flip_average=record.flip_average,
            class_names=record.class_names,
            source=f"{pathlib.Path(path).resolve()}@{version}",
        )

    def warm_up(self):
        """Traces the answer, the feature maps, two classes' maps (as Where it looks asks), one class's Grad-CAM (as
        Mistakes asks) and the pooled features that Nearest images compares, on one blank image, so that the first
        page to ask pays no tracing (about a second on 2 cores, while a class's other sessions wait for it).
        Returns self."""
        blank = np.zeros(self.model.inputs[0].shape[1:], np.uint8)
        self.top_k(blank)
        self.feature_maps(blank)
        self.attention(blank, [0, 1 % len(self.class_names)])
        self.grad_cam(blank, class_index=0)
        with contextlib.suppress(NeighbourError):  # A model without VGG's five pooling blocks has no neighbours.
            image_features(self.model, blank)
        return self

    def top_k(self, image, k=5):
        """The `k` likeliest classes of one image, likeliest first, as Prediction(index, name, probability)."""
        probabilities = self.probabilities(image)[0]
        order = np.argsort(probabilities)[::-1][:k]
        return [Prediction(int(index), self.class_names[index], float(probabilities[index])) for index in order]

    def feature_maps(self, image):
        """{layer name: (H, W, channels) array} for every conv activation and pooling layer."""
        outputs = self._features(tf.constant(self._batch(image)))
        names = self.activation_names + self.pool_names
        return {name: output.numpy()[0] for name, output in zip(names, outputs, strict=True)}

    def attention(self, image, classes, saliency=True):
        """[vgg.explain.attention.ClassMaps] of one image for each of `classes` (None: its own view's top class): the
        cell scores of blocks 3, 4 and 5 and, with `saliency`, the SmoothGrad map at the input's pixels."""
        if self._attention is None:
            self._attention = AttentionMaps(self.model)
        return self._attention.maps(self._batch(image)[0], classes, saliency=saliency)

    def grad_cam(self, image, class_index=None, block=4):
        """(heatmap, class): the class map of `class_index` (default: the top class of the image's own view) at
        `block`, upsampled to the input size, in [0, 1]; all zero when no cell adds to the class (see
        vgg/explain/attention.py for why cells are weighed by their own gradient)."""
        if block not in BLOCKS:
            raise ValueError(f"Class maps exist for blocks {', '.join(map(str, BLOCKS))}. Received: block={block}")
        (maps,) = self.attention(image, [class_index], saliency=False)
        grid = maps.grids[block]
        size = tuple(self.model.inputs[0].shape[1:3])
        heatmap = upsample(grid / grid.max(), size) if not is_empty(grid) else np.zeros(size, np.float32)
        return heatmap, maps.class_index

    def grad_cams(self, image, classes, blocks=(4, 3)):
        """Grad-CAM of each of `classes` from the first of `blocks` where none of their maps is empty, so maps side
        by side come from one layer: ([heatmap], block). When every block has an empty map, the last block's maps
        are returned; callers say so rather than show a dark picture."""
        for block in blocks:
            heatmaps = [self.grad_cam(image, class_index=label, block=block)[0] for label in classes]
            if not any(heatmap_is_empty(heatmap) for heatmap in heatmaps):
                break
        return heatmaps, block


def score_views(model, images, flip_average, batch_size=SCORING_BATCH, progress=None):
    """(each image's probabilities alone, the probabilities Predict shows: with `flip_average`, averaged with its
    mirror image's) for `images`, in batches, with `progress(done, total)` after each batch. `model` may be a
    one-view Predictor already traced (a budgeted run's, vgg/training/time_budget.py), which then traces nothing."""
    one_view = model if isinstance(model, Predictor) else Predictor(model, flip_average=False)
    original, mirrored = [], []
    for start in range(0, len(images), batch_size):
        batch = np.asarray(images[start : start + batch_size], dtype=np.float32)
        original.append(one_view.probabilities(batch))
        mirrored.append(one_view.probabilities(batch[:, :, ::-1]) if flip_average else 0)
        if progress:
            progress(min(start + batch_size, len(images)), len(images))
    original = np.concatenate(original)
    # Halved as Predictor averages the two views, so the top probabilities are the ones Predict shows.
    return original, (original + np.concatenate(mirrored)) / 2 if flip_average else original


def evaluate(model, images, labels, num_classes=NUM_CLASSES, flip_average=True, progress=None):
    """Accuracy, per-class accuracy and the confusion matrix (rows: true class, columns: predicted),
    scored as the app predicts: on the mean over each image and its mirror image, unless
    `flip_average` is off. `single_view_accuracy` is the accuracy on the images alone; `unsure_below` is the
    top probability that 95% of the images exceed (its 5th percentile), below which Predict calls an answer unsure.
    `progress(done, total)` hears of each batch of images scored."""
    if len(labels) == 0:
        raise DataError("There are no validation images to score the model on.")
    original, probabilities = score_views(model, images, flip_average, progress=progress)
    predictions = probabilities.argmax(axis=1)
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(confusion, (labels, predictions), 1)
    per_class = confusion.diagonal() / np.maximum(confusion.sum(axis=1), 1)
    return {
        "accuracy": float((predictions == labels).mean()),
        "single_view_accuracy": float((original.argmax(axis=1) == labels).mean()),
        "flip_average": flip_average,
        "per_class_accuracy": per_class.tolist(),
        "confusion_matrix": confusion.tolist(),
        "images": int(len(labels)),
        "unsure_below": float(np.percentile(probabilities.max(axis=1), 5)),
    }
