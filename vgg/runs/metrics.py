"""metrics.jsonl: typed batch and epoch rows, read incrementally, and the progress they imply.

The trainer appends one line per logged interval (`BatchRow`) and one per finished epoch
(`EpochRow`); every reader gets both lists from `read_metrics`, never raw dictionaries.
"""

import dataclasses
import json

from vgg.core.files import json_kind
from vgg.runs.jsonl import JsonlFollower
from vgg.runs.status import DamagedRunError


@dataclasses.dataclass(frozen=True, slots=True)
class BatchRow:
    step: int  # Optimizer steps since the run began.
    epoch: float  # Epochs done, fractional: 1.5 is halfway through the second epoch.
    loss: float  # Mean training loss over the interval since the previous row.
    accuracy: float
    learning_rate: float
    images_per_second: float  # Over the interval since the previous row.
    elapsed: float  # Training seconds since the run began, over all its sessions.
    kind: str = "batch"


@dataclasses.dataclass(frozen=True, slots=True)
class EpochRow:
    step: int
    epoch: int | float  # Epochs done: 1 after the first; a fraction at a time budget's end (vgg/core/config.py).
    loss: float  # Keras' mean training loss over the epoch.
    accuracy: float
    val_loss: float | None  # None when the run holds out no validation images.
    val_accuracy: float | None  # On the validation images alone (no mirror averaging).
    learning_rate: float
    images_per_second: float  # Training images over the epoch's seconds, validation included.
    elapsed: float
    kind: str = "epoch"


ROW_TYPES = {"batch": BatchRow, "epoch": EpochRow}


@dataclasses.dataclass(frozen=True)
class Metrics:
    batches: tuple = ()
    epochs: tuple = ()

    @property
    def validated_epochs(self):
        return tuple(row for row in self.epochs if row.val_accuracy is not None)

    def rows(self):
        """Every row in the order logged."""
        return sorted(self.batches + self.epochs, key=lambda row: (row.step, row.kind == "epoch"))


def row_line(row):
    return json.dumps(dataclasses.asdict(row)) + "\n"


def _parse_row(line, run_name):
    try:
        value = json.loads(line)
    except ValueError:
        return None  # A line cut short by a crash, or still being written.
    row_type = ROW_TYPES.get(value.get("kind")) if isinstance(value, dict) else None
    if row_type is None:
        raise DamagedRunError(f"Run {run_name!r} is damaged: its metrics.jsonl has a line holding {json_kind(value)}.")
    try:
        values = {field.name: value[field.name] for field in dataclasses.fields(row_type)}
        if any(
            not isinstance(values[name], (int, float)) or isinstance(values[name], bool)
            for name in ("step", "epoch", "loss", "accuracy", "elapsed")
        ):
            raise TypeError
    except (KeyError, TypeError):
        raise DamagedRunError(
            f"Run {run_name!r} is damaged: a line of its metrics.jsonl is not a metrics row."
        ) from None
    return row_type(**values)


def _extended(metrics, data, run_name):
    batches, epochs = [], []
    for line in data.splitlines():
        row = _parse_row(line, run_name)
        if row is not None:
            (batches if row.kind == "batch" else epochs).append(row)
    if not batches and not epochs:
        return metrics
    return Metrics(metrics.batches + tuple(batches), metrics.epochs + tuple(epochs))


_reader = JsonlFollower(_extended, Metrics)


def read_metrics(path, run_name="?"):
    """Every complete row of a metrics.jsonl (a line cut short by a crash is skipped); a line of valid
    JSON that is not a row raises DamagedRunError."""
    return _reader.read(path, run_name)


def kept_after_resume(metrics, epochs_done):
    """The rows a run resumed after `epochs_done` whole epochs keeps: the part of an epoch that was cut
    short is trained again, so its rows go and the chart never runs backwards."""
    return [row for row in metrics.rows() if row.epoch <= epochs_done]


@dataclasses.dataclass(frozen=True)
class Progress:
    fraction: float  # Of the configured epochs.
    epoch: float  # Epochs done, fractional.
    images_per_second: float  # The latest interval's speed.
    seconds_left: float | None  # None until a first interval is measured.


def progress(metrics, epochs):
    """How far a run with `epochs` configured epochs is and, from its average pace so far (training
    seconds per epoch, validation included), how long it has left: one slow interval (the first after
    a resume compiles the model again) does not swing the estimate."""
    if not metrics.batches:
        return Progress(0.0, 0.0, 0.0, None)
    last = metrics.batches[-1]
    seconds_per_epoch = last.elapsed / last.epoch if last.epoch > 0 and last.elapsed > 0 else None
    seconds_left = (epochs - last.epoch) * seconds_per_epoch if seconds_per_epoch else None
    return Progress(min(1.0, last.epoch / epochs), last.epoch, last.images_per_second, seconds_left)


def format_duration(seconds):
    """'2 h 05 min', '12 min', '1 min 40 s', '40 s': a time as a person says it (to 10 s from 1 to 10 min)."""
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    if seconds >= 600:
        return f"{seconds // 60} min"
    if seconds >= 60:
        seconds = 10 * round(seconds / 10)
        return f"{seconds // 60} min {seconds % 60} s" if seconds % 60 else f"{seconds // 60} min"
    return f"{seconds} s"


def downsample(xs, ys, limit):
    """At most about `limit` points of the curve (xs, ys) that keep its shape: the first and last points,
    and in each of limit/2 equal runs of points, its lowest and its highest, in their order."""
    if len(xs) <= limit:
        return list(xs), list(ys)
    buckets = max(1, (limit - 2) // 2)
    edges = [1 + (len(xs) - 2) * index // buckets for index in range(buckets + 1)]
    kept = [0]
    for start, end in zip(edges, edges[1:], strict=False):
        if end > start:
            run = range(start, end)
            low, high = min(run, key=ys.__getitem__), max(run, key=ys.__getitem__)
            kept += sorted({low, high})
    kept.append(len(xs) - 1)
    return [xs[index] for index in kept], [ys[index] for index in kept]
