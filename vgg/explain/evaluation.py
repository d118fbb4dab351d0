"""A model's answers for every validation image, computed once per model file and data split and saved.

The Mistakes page reads everything from one Evaluation: accuracy, precision and recall, the confusion
matrix, the images of any cell sorted by confidence, each image's likeliest classes. The saved file is
keyed by the model file's SHA-256 and the split (data source, validation size, seed and a digest of its
images), so a retrained model or other data never shows another's answers. Shipped models (assets/) keep
theirs in the data cache, since assets/ is committed; a run's model keeps them beside it in its run folder.

`python -m vgg.explain.evaluation` times a first evaluation of the shipped model and its read-back.
"""

import contextlib
import dataclasses
import hashlib
import json
import os
import pathlib
import threading
import time

import numpy as np

from vgg.core.errors import UserError
from vgg.core.files import replacing
from vgg.core.paths import ASSETS_DIR
from vgg.data.cifar10 import cache_dir
from vgg.explain.cache import computed_once
from vgg.runs.record import ModelRecord

BATCH_SIZE = 500  # As vgg.explain.predictor.evaluate batches, so that both count exactly the same answers.
FORMAT = 1  # Bumped when the saved arrays change meaning; an older file is then computed again.
DEFAULT_SPLIT = (5000, 0)  # The validation size and seed of the app's data and of `evaluate --model`.


class EvaluationError(UserError):
    """A model that cannot be scored on these images; its message is one sentence."""


@dataclasses.dataclass(frozen=True)
class EvaluationKey:
    """Which saved evaluation belongs to a model file and a data split, and where it lives."""

    model_sha256: str
    split_id: str
    file: pathlib.Path


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
            "accuracy": self.accuracy, "single_view_accuracy": self.single_view_accuracy,
            "flip_average": self.flip_average, "per_class_accuracy": np.nan_to_num(self.recall).tolist(),
            "confusion_matrix": self.confusion.tolist(), "images": self.images,
        }


_hashes = {}
_hashes_lock = threading.Lock()


def file_sha256(path):
    """The SHA-256 of a file, remembered per (path, size, modification time): a 400 MB model hashes once."""
    path = pathlib.Path(path).resolve()
    stat = path.stat()
    version = (str(path), stat.st_size, stat.st_mtime_ns)
    with _hashes_lock:
        if version in _hashes:
            return _hashes[version]
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(2**20), b""):
            digest.update(block)
    with _hashes_lock:
        _hashes[version] = digest.hexdigest()
    return _hashes[version]


def split_for(model_path):
    """(validation size, seed) a model is scored on: a run's own held-out images, as `python -m vgg evaluate
    --run` scores it, else the app's default split."""
    record = ModelRecord.of(model_path)
    if record.source == "run" and record.config is not None:
        return record.config.validation_size, record.config.seed
    return DEFAULT_SPLIT


def split_id(dataset, validation_size, seed):
    """A digest of a validation split: its source, size and seed, and its very images and labels."""
    digest = hashlib.sha256(json.dumps([dataset.source, validation_size, seed, list(dataset.class_names)]).encode())
    digest.update(np.ascontiguousarray(dataset.x_val).tobytes())
    digest.update(np.ascontiguousarray(dataset.y_val).astype(np.int64).tobytes())
    return digest.hexdigest()


def evaluation_key(model_path, split):
    """The key and file of a model's evaluation on split `split` (a split_id)."""
    model_path = pathlib.Path(model_path)
    model_sha256 = file_sha256(model_path)
    # assets/ is committed: its models' evaluations go to the data cache, which is never committed.
    in_assets = model_path.resolve().is_relative_to(ASSETS_DIR.resolve())
    folder = cache_dir() / "evaluations" if in_assets else model_path.parent
    name = f"{model_path.stem}.evaluation-{model_sha256[:16]}-{split[:16]}.npz"
    return EvaluationKey(model_sha256, split, folder / name)


def compute(model, images, labels, class_names, flip_average, progress=None):
    """Scores `model` on every image exactly as vgg.explain.predictor.evaluate does (same batches, each image's
    probabilities averaged with its mirror image's with `flip_average`); `progress(done, total)` after each batch."""
    from vgg.explain.predictor import Predictor

    outputs = model.outputs[0].shape[-1]
    if outputs != len(class_names):
        raise EvaluationError(f"The model answers {outputs} classes but the data has {len(class_names)}.")
    if len(labels) == 0:
        raise EvaluationError("There are no validation images to score the model on.")
    started = time.perf_counter()
    one_view = Predictor(model, flip_average=False)
    original, mirrored = [], []
    for start in range(0, len(images), BATCH_SIZE):
        batch = np.asarray(images[start : start + BATCH_SIZE], dtype=np.float32)
        original.append(one_view.probabilities(batch))
        mirrored.append(one_view.probabilities(batch[:, :, ::-1]) if flip_average else 0)
        if progress:
            progress(min(start + BATCH_SIZE, len(images)), len(images))
    original = np.concatenate(original)
    # Halving the sum changes no argmax, so predictions are evaluate()'s exactly.
    probabilities = (original + np.concatenate(mirrored)) / 2 if flip_average else original
    return Evaluation(probabilities.astype(np.float32), np.array(labels, dtype=np.int64),
                      original.argmax(axis=1).astype(np.int64), tuple(class_names), bool(flip_average),
                      time.perf_counter() - started)


def save(key, evaluation):
    """Writes `evaluation` to key.file atomically, and removes this model file's evaluations from before it changed."""
    meta = {"format": FORMAT, "model_sha256": key.model_sha256, "split_id": key.split_id,
            "class_names": list(evaluation.class_names), "flip_average": evaluation.flip_average,
            "seconds": evaluation.seconds}
    key.file.parent.mkdir(parents=True, exist_ok=True)
    with replacing(key.file, "the saved evaluation") as temporary, open(temporary, "wb") as file:
        np.savez(file, probabilities=evaluation.probabilities, labels=evaluation.labels,
                 single_view_predictions=evaluation.single_view_predictions, meta=np.array(json.dumps(meta)))
    stem = key.file.name.split(".evaluation-")[0]
    for old in key.file.parent.glob(f"{stem}.evaluation-*.npz"):
        if not old.name.startswith(f"{stem}.evaluation-{key.model_sha256[:16]}-"):
            with contextlib.suppress(OSError):
                old.unlink()


def load_saved(key, labels, class_names, flip_average):
    """The evaluation saved at key.file, or None when there is none or it is not exactly what this model
    gives on these images (damaged, cut short, of other images, or of an older format)."""
    try:
        with np.load(key.file, allow_pickle=False) as saved:
            meta = json.loads(str(saved["meta"]))
            arrays = {name: saved[name] for name in ("probabilities", "labels", "single_view_predictions")}
    except Exception:
        return None  # Missing, random bytes, a zip without those arrays: computed again by the caller.
    expected = {"format": FORMAT, "model_sha256": key.model_sha256, "split_id": key.split_id,
                "class_names": list(class_names), "flip_average": bool(flip_average)}
    if not isinstance(meta, dict) or any(meta.get(name) != value for name, value in expected.items()):
        return None
    if not _plausible(arrays, np.asarray(labels), len(class_names)):
        return None
    seconds = meta.get("seconds")
    return Evaluation(arrays["probabilities"].astype(np.float32), arrays["labels"].astype(np.int64),
                      arrays["single_view_predictions"].astype(np.int64), tuple(class_names), bool(flip_average),
                      float(seconds) if isinstance(seconds, (int, float)) else 0.0)


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
    return bool(np.isfinite(probabilities).all() and np.allclose(probabilities.sum(axis=1), 1, atol=1e-3)
                and probabilities.min(initial=0) >= 0)


def evaluation_of(key, dataset, get_model, flip_average, progress=None):
    """(evaluation, None), read back from key.file or else computed with get_model() and saved; (evaluation,
    one sentence) when it could not be saved. Thirty sessions asking at once run the model once: the others
    wait and see its progress through `progress(done, total)`."""
    return computed_once(
        key.file, lambda: load_saved(key, dataset.y_val, dataset.class_names, flip_average),
        lambda report: compute(get_model(), dataset.x_val, dataset.y_val, dataset.class_names, flip_average, report),
        lambda evaluation: save(key, evaluation), progress)


def _no_model():
    raise AssertionError("The saved evaluation was not read back.")


def main():
    """Times a first evaluation of the shipped model (into a fresh cache) and a read-back, as the app does them."""
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(prog="python -m vgg.explain.evaluation", description=main.__doc__)
    parser.add_argument("--data-dir", default=None, help="The CIFAR-10 image folder (default: VGG_DATA_DIR).")
    parser.add_argument("--serving-threads", action="store_true", help="Limit TensorFlow as the web server does.")
    args = parser.parse_args()
    from vgg.data.cifar10 import load_cifar10
    from vgg.explain.predictor import Predictor
    from vgg.model.device import cpu_name, limit_serving_threads
    from vgg.runs.record import SHIPPED_MODEL

    if args.serving_threads:
        limit_serving_threads()
    dataset = load_cifar10(args.data_dir, *DEFAULT_SPLIT)
    predictor = Predictor.for_file(SHIPPED_MODEL, "runs")
    with tempfile.TemporaryDirectory() as folder:
        os.environ["VGG_CACHE_DIR"] = folder
        key = evaluation_key(SHIPPED_MODEL, split_id(dataset, *DEFAULT_SPLIT))
        started = time.perf_counter()
        evaluation, _ = evaluation_of(key, dataset, lambda: predictor.model, predictor.flip_average)
        first = time.perf_counter() - started
        started = time.perf_counter()
        evaluation_of(key, dataset, _no_model, predictor.flip_average)
        later = time.perf_counter() - started
    print(f"{evaluation.images:,} images, accuracy {evaluation.accuracy:.4f} (flip average {evaluation.flip_average}); "
          f"first evaluation {first:.1f} s, read back {later * 1000:.0f} ms; {cpu_name()}, {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
