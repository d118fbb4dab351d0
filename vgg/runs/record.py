"""What a model file is: the one answer, from its card (assets/) or the run that saved it.

How it was trained (flips, input scaling, width), its class names, how well it scored, the command
that rebuilds it and the models it grew from: every caller asks `ModelRecord.of(path)`.
"""

import dataclasses
import hashlib
import pathlib

from vgg.core.config import VARIANTS, TrainConfig, train_command
from vgg.core.errors import UserError
from vgg.core.paths import ASSETS_DIR
from vgg.data.cifar10 import CLASS_NAMES
from vgg.runs.card import Card
from vgg.runs.folder import Run, list_runs
from vgg.runs.naming import distinct_names
from vgg.runs.status import ACTIVE_STATES

SNAPSHOT_MODEL = ASSETS_DIR / "vgg16_cpu_snapshots.keras"
SNAPSHOT_LABEL = "cpu run over 8 epochs, with snapshots (assets/)"
SHIPPED_MODEL = ASSETS_DIR / "vgg16_cifar10.keras"
SHIPPED_LABEL = "Shipped VGG16 (assets/)"


def reproduce_command(config, preset_name, data_dir, started_from):
    """The `python -m vgg train` command of a run. One that started from another run's model reads that
    model where the other run's own command leaves it (runs/<name>/model.keras), not at this machine's path."""
    if started_from and "run" in started_from:
        config = dataclasses.replace(config, init_from=f"runs/{started_from['run']}/model.keras")
    return train_command(config, preset_name, data_dir and str(data_dir))


def ancestors(started_from):
    """The runs a model grew from, nearest first, as far as their records go."""
    chain = []
    while isinstance(started_from, dict) and "run" in started_from:
        chain.append(started_from)
        started_from = started_from.get("started_from")
    return chain


@dataclasses.dataclass(frozen=True)
class ModelRecord:
    path: pathlib.Path
    source: str  # "card" (a shipped model's card beside it), "run" (a run's folder) or "none".
    config: TrainConfig | None = None  # None when nothing records how it was trained.
    class_names: tuple = CLASS_NAMES
    run: str | None = None
    epochs: int | None = None  # Whole epochs this file's weights trained (not counting its ancestors').
    planned_epochs: int | None = None
    wall_time_seconds: float | None = None
    val_accuracy: float | None = None  # As Predict scores it when known, else the last epoch's.
    validation_images: int | None = None
    command: str | None = None
    started_from: dict | None = None
    # The top probability that 95% of its validation images exceed, as Predict computes it: an upload's answer below
    # it is one the model is unsure of. None when its record does not say (runs that finished before it was saved).
    unsure_below: float | None = None

    @classmethod
    def of(cls, path):
        path = pathlib.Path(path)
        return _from_card(path) or _from_run(path) or cls(path, "none")

    @property
    def flip_average(self):
        """Whether predictions average each image with its mirror image: for models trained on flips,
        to which both views are equally familiar. Unknown means no."""
        return bool(self.config and self.config.augment)

    @property
    def lineage(self):
        return ancestors(self.started_from)

    def summary(self):
        """One sentence on what the model is and how well it scored, or None when nothing records it."""
        if self.config is None:
            return None
        name = f"{VARIANTS.get(self.config.variant, 'VGG')} at width {self.config.width}"
        if self.val_accuracy is None:
            return f"{name}, no validation score yet."
        # A model grown from others counts the epochs of each, oldest first: 160 + 24.
        epochs = " + ".join(str(ancestor["epochs"]) for ancestor in reversed(self.lineage))
        epochs = f"{epochs} + {self.epochs}" if epochs else f"{self.epochs}"
        if self.planned_epochs and self.epochs != self.planned_epochs:
            epochs += f" of {self.planned_epochs}"
        images = f"{self.validation_images:,} " if self.validation_images else ""
        unit = "epoch" if epochs == "1" else "epochs"
        return f"{name}, trained {epochs} {unit}: {self.val_accuracy:.1%} of {images}validation images right."

    def origin(self):
        """The record of this file kept by a run that starts from it: its name and SHA-256 and, when
        known, its run, width, epochs, wall time, accuracy, command and own origin."""
        origin = {"file": self.path.name, "sha256": hashlib.sha256(self.path.read_bytes()).hexdigest()}
        # A checkpoint is a run's state halfway: only a final model or a card is what the run's record says.
        if self.run is None or self.config is None or (self.source == "run" and self.path.name != "model.keras"):
            return origin
        return origin | {
            "run": self.run,
            "width": self.config.width,
            "epochs": self.epochs,
            "wall_time_seconds": self.wall_time_seconds,
            "val_accuracy": self.val_accuracy,
            "command": self.command,
            "started_from": self.started_from,
        }


def _from_card(path):
    card = Card.read(path)
    if card is None:
        return None
    return ModelRecord(
        path,
        "card",
        config=card.config,
        class_names=card.class_names,
        run=card.run,
        epochs=card.epochs,
        planned_epochs=card.epochs,
        wall_time_seconds=card.wall_time_seconds,
        val_accuracy=card.val_accuracy,
        validation_images=card.validation_size,
        command=card.command,
        started_from=card.started_from,
        unsure_below=_probability(card.unsure_below),
    )


def _from_run(path):
    run = Run(path.parent)
    if path.parent.name == "" or not run.exists():
        return None
    try:
        config, status, metrics = run.config(), run.status(), run.metrics()
    except UserError:
        return None
    last = metrics.epochs[-1] if metrics.epochs else None
    accuracy = status.final_accuracy if status.final_accuracy is not None else (last.val_accuracy if last else None)
    return ModelRecord(
        path,
        "run",
        config=config,
        run=run.name,
        epochs=last.epoch if last else 0,
        planned_epochs=None if config.minutes else config.epochs,  # A run given minutes planned none.
        wall_time_seconds=last.elapsed if last else None,
        val_accuracy=accuracy,
        command=reproduce_command(config, status.preset, status.data_dir, status.started_from),
        started_from=status.started_from,
        unsure_below=_probability(status.final_unsure_below),
    )


def _probability(value):
    """`value` when it is a probability, else None: a hand-edited card must not make every answer unsure."""
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if is_number and 0 <= value <= 1 else None


def default_model_path():
    return SHIPPED_MODEL if SHIPPED_MODEL.exists() else None


def available_models(runs_dir):
    """{label: path} of the shipped model and every run's final model or else its last checkpoint, newest run first.
    A label names the run's folder, so links and session state keep naming the same model; `model_names` says it
    for people."""
    return {label: path for label, (path, _) in _models(runs_dir).items()}


def still_training(path):
    """Whether `path` is the checkpoint of a run that is queued or training: it changes every epoch, so what is
    computed once per model file (its evaluation, pictures, index) waits for the run's final model."""
    path = pathlib.Path(path)
    run = Run(path.parent)
    if path.name != run.checkpoint_path.name or not run.exists():
        return False
    try:
        return run.status().state in ACTIVE_STATES
    except UserError:
        return False  # A damaged status says nothing about training: the checkpoint is only what it is.


def model_names(runs_dir):
    """{label: what people call the model}: 'blog recipe (demo) · Ada (final)', not the run's folder."""
    return {label: name for label, (_, name) in _models(runs_dir).items()}


def _models(runs_dir):
    """{label: (path, name for people)} of every model a page can open."""
    models = {SHIPPED_LABEL: (SHIPPED_MODEL, SHIPPED_LABEL)} if SHIPPED_MODEL.exists() else {}
    if SNAPSHOT_MODEL.exists():  # A small run shipped with its weights over time, for the Epoch slider.
        models[SNAPSHOT_LABEL] = (SNAPSHOT_MODEL, SNAPSHOT_LABEL)
    runs = list_runs(runs_dir)
    names = distinct_names(runs)  # A picker tells its models apart by these names alone.
    for run in runs:
        if run.model_path.exists():
            models[f"Run {run.name} (final)"] = (run.model_path, f"{names[run.name]} (final)")
        elif run.checkpoint_path.exists():
            models[f"Run {run.name} (last checkpoint)"] = (run.checkpoint_path, f"{names[run.name]} (last checkpoint)")
    return models
