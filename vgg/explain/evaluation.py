"""A model's answers for every validation image, computed once per model file and data split and saved.

The Mistakes page reads everything from one Evaluation: accuracy, precision and recall, the confusion
matrix, the images of any cell sorted by confidence, each image's likeliest classes. The saved file is
keyed by the model file's SHA-256 and the split (data source, validation size, seed and a digest of its
images), so a retrained model or other data never shows another's answers. Shipped models (assets/) keep
theirs in the data cache, since assets/ is committed; a run's model keeps them beside it in its run folder.
"""

import dataclasses
import time

import numpy as np

from vgg.core.config import DEFAULT_SPLIT
from vgg.core.errors import UserError
from vgg.explain.cache import (
    cache_key,
    computed_once,
    load_arrays,
    save_arrays,
    saved_seconds,
    split_digest,
)
from vgg.runs.record import ModelRecord

FORMAT = 1  # Bumped when the saved arrays change meaning; an older file is then computed again.


class EvaluationError(UserError):
    """A model that cannot be scored on these images; its message is one sentence."""


@dataclasses.dataclass(frozen=True, eq=False)
class Evaluation:
    """A model's class probabilities for every validation image, and what follows from them.
    Shared by every session that looks at the model: its arrays are read-only."""

    probabilities: np.ndarray  # (N, classes) float32, as the app predicts (mirror-averaged with flip_average).
    labels: np.ndarray  # (N,) true classes.
    single_view_predictions: np.ndarray  # (N,) the likeliest class of each image alone.
    class_names: tuple
    flip_average: bool
    seconds: float  # How long computing it took.
    predictions: np.ndarray = dataclasses.field(init=False)
    confidence: np.ndarray = dataclasses.field(init=False)  # (N,) probability of the predicted class.
    confusion: np.ndarray = dataclasses.field(init=False)  # (classes, classes): rows true, columns predicted.

    def __post_init__(self):
        predictions = self.probabilities.argmax(axis=1)
        classes = len(self.class_names)
        confusion = np.zeros((classes, classes), dtype=np.int64)
        np.add.at(confusion, (self.labels, predictions), 1)
        derived = {"predictions": predictions, "confidence": self.probabilities.max(axis=1), "confusion": confusion}
        for name, value in derived.items():
            object.__setattr__(self, name, value)
        for name in ("probabilities", "labels", "single_view_predictions", *derived):
            getattr(self, name).flags.writeable = False

    @property
    def images(self):
        return len(self.labels)

    @property
    def accuracy(self):
        return float((self.predictions == self.labels).mean())

    @property
    def single_view_accuracy(self):
        return float((self.single_view_predictions == self.labels).mean())

    @property
    def recall(self):
        """Per class: the share of its images the model calls by its name (NaN for a class without images)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.confusion.diagonal() / self.confusion.sum(axis=1)

    @property
    def precision(self):
        """Per class: the share of the images called by its name that are of it (NaN when none are)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.confusion.diagonal() / self.confusion.sum(axis=0)

    @property
    def unsure_below(self):
        """The top probability that 95% of the images exceed (its 5th percentile): Predict calls an answer below it
        unsure."""
        return float(np.percentile(self.confidence, 5))

    def row_shares(self):
        """The confusion matrix as shares of each true class's images."""
        return self.confusion / np.maximum(self.confusion.sum(axis=1, keepdims=True), 1)

    def most_confused(self, true_class):
        """(the class its images are most often called instead, how many), or None when it has no mistakes."""
        row = self.confusion[true_class].copy()
        row[true_class] = 0
        other = int(row.argmax())
        return (other, int(row[other])) if row[other] else None

    def most_frequent_mistake(self):
        """(true class, class called) of the matrix's largest cell off its diagonal: the mistake worth talking
        about first (the first such cell when the model makes none)."""
        wrong = np.where(np.eye(len(self.confusion), dtype=bool), -1, self.confusion)
        true, called = np.unravel_index(int(wrong.argmax()), wrong.shape)
        return int(true), int(called)

    def cell(self, true_class, predicted_class):
        """Indices of the images of `true_class` called `predicted_class`, most confident first."""
        chosen = np.flatnonzero((self.labels == true_class) & (self.predictions == predicted_class))
        return chosen[np.argsort(-self.confidence[chosen], kind="stable")]

    def confident_mistakes(self):
        """Indices of every wrongly called image, most confident first."""
        wrong = np.flatnonzero(self.labels != self.predictions)
        return wrong[np.argsort(-self.confidence[wrong], kind="stable")]

    def top(self, index, k=3):
        """The `k` likeliest classes of image `index`: [(class index, probability)], likeliest first."""
        order = np.argsort(-self.probabilities[index], kind="stable")[:k]
        return [(int(label), float(self.probabilities[index, label])) for label in order]

    def report(self):
        """The figures `vgg.explain.predictor.evaluate` returns, under its names."""
        return {
            "accuracy": self.accuracy,
            "single_view_accuracy": self.single_view_accuracy,
            "flip_average": self.flip_average,
            "per_class_accuracy": np.nan_to_num(self.recall).tolist(),
            "confusion_matrix": self.confusion.tolist(),
            "images": self.images,
        }


def split_for(model_path):
    """(validation size, seed) a model is scored on: a run's own held-out images, as `python -m vgg evaluate
    --run` scores it, else the app's default split."""
    record = ModelRecord.of(model_path)
    if record.source == "run" and record.config is not None:
        return record.config.validation_size, record.config.seed
    return DEFAULT_SPLIT


def split_id(dataset, validation_size, seed):
    """A digest of a validation split: its source, size and seed, and its very images and labels."""
    return split_digest(dataset, validation_size, seed, dataset.x_val, dataset.y_val)


def evaluation_key(model_path, split):
    """The key and file of a model's evaluation on split `split` (a split_id)."""
    return cache_key(model_path, "evaluation", split)


def compute(model, images, labels, class_names, flip_average, progress=None):
    """Scores `model` on every image exactly as vgg.explain.predictor.evaluate does (same batches, each image's
    probabilities averaged with its mirror image's with `flip_average`); `progress(done, total)` after each batch."""
    from vgg.explain.predictor import Predictor, score_views

    # A budgeted run scores through a one-view Predictor it traced ahead (vgg/training/time_budget.py).
    outputs = (model.model if isinstance(model, Predictor) else model).outputs[0].shape[-1]
    if outputs != len(class_names):
        raise EvaluationError(f"The model answers {outputs} classes but the data has {len(class_names)}.")
    if len(labels) == 0:
        raise EvaluationError("There are no validation images to score the model on.")
    started = time.perf_counter()
    original, probabilities = score_views(model, images, flip_average, progress=progress)
    return Evaluation(
        probabilities.astype(np.float32),
        np.array(labels, dtype=np.int64),
        original.argmax(axis=1).astype(np.int64),
        tuple(class_names),
        bool(flip_average),
        time.perf_counter() - started,
    )


def save(key, evaluation):
    """Writes `evaluation` to key.file atomically, and removes this model file's evaluations from before it changed."""
    meta = {
        "format": FORMAT,
        "model_sha256": key.model_sha256,
        "split_id": key.detail,
        "class_names": list(evaluation.class_names),
        "flip_average": evaluation.flip_average,
        "seconds": evaluation.seconds,
    }
    arrays = {
        "probabilities": evaluation.probabilities,
        "labels": evaluation.labels,
        "single_view_predictions": evaluation.single_view_predictions,
    }
    save_arrays(key, "evaluation", arrays, meta, "the saved evaluation")


def load_saved(key, labels, class_names, flip_average):
    """The evaluation saved at key.file, or None when there is none or it is not exactly what this model
    gives on these images (damaged, cut short, of other images, or of an older format)."""
    expected = {
        "format": FORMAT,
        "model_sha256": key.model_sha256,
        "split_id": key.detail,
        "class_names": list(class_names),
        "flip_average": bool(flip_average),
    }
    saved = load_arrays(key.file, expected, ("probabilities", "labels", "single_view_predictions"))
    if saved is None or not _plausible(saved[1], np.asarray(labels), len(class_names)):
        return None
    meta, arrays = saved
    return Evaluation(
        arrays["probabilities"].astype(np.float32),
        arrays["labels"].astype(np.int64),
        arrays["single_view_predictions"].astype(np.int64),
        tuple(class_names),
        bool(flip_average),
        saved_seconds(meta),
    )


def _plausible(arrays, labels, classes):
    """Whether saved arrays have the shapes and values of this split's evaluation."""
    probabilities, saved_labels, single = arrays["probabilities"], arrays["labels"], arrays["single_view_predictions"]
    if probabilities.shape != (len(labels), classes) or probabilities.dtype.kind != "f":
        return False
    if saved_labels.shape != labels.shape or not np.array_equal(saved_labels, labels):
        return False
    if single.shape != labels.shape or single.dtype.kind not in "iu":
        return False
    if single.size and not 0 <= single.min() <= single.max() < classes:
        return False
    return bool(
        np.isfinite(probabilities).all()
        and np.allclose(probabilities.sum(axis=1), 1, atol=1e-3)
        and probabilities.min(initial=0) >= 0
    )


def evaluation_of(key, dataset, get_model, flip_average, progress=None):
    """(evaluation, None), read back from key.file or else computed with get_model() and saved; (evaluation,
    one sentence) when it could not be saved. Thirty sessions asking at once run the model once: the others
    wait and see its progress through `progress(done, total)`."""
    return computed_once(
        key.file,
        lambda: load_saved(key, dataset.y_val, dataset.class_names, flip_average),
        lambda report: compute(get_model(), dataset.x_val, dataset.y_val, dataset.class_names, flip_average, report),
        lambda evaluation: save(key, evaluation),
        progress,
    )
