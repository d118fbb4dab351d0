"""Small copies of a run's weights at a few epochs (0, 1, 2, 4, 8, ... and the last), so the Inside VGG16 page can
show a model as it was while it learned.

A run keeps them in `<run>/snapshots/epoch-NNN.npz`; a model file elsewhere (assets/) in `<model stem>.snapshots/`
beside it. Epoch 0 is the weights before any training. Each file holds every weight of `model.get_weights()` (batch
norm's statistics too) in float16, half the bytes of float32 and still exact to about 3 digits, which no picture shows.
"""

import argparse
import contextlib
import dataclasses
import math
import pathlib
import re
import time

import keras
import numpy as np

from vgg.core.errors import UserError
from vgg.core.files import WriteError, read_json, replacing, write_json
from vgg.runs.disk import MAX_SNAPSHOT_BYTES

SKIPPED_FILE = "none.json"  # Says why a run has no snapshots.
EPOCH_FILE = re.compile(r"epoch-(\d{3,})\.npz")


class SnapshotError(UserError):
    """A snapshot that is missing or does not fit the model."""


def planned_epochs(epochs):
    """The epochs a run of `epochs` epochs keeps: 0, the powers of two below `epochs`, and `epochs`."""
    if epochs < 1:
        raise ValueError(f"A run trains at least one epoch. Received: epochs={epochs}")
    powers = [2**power for power in range(int(math.log2(epochs)) + 1)]
    return sorted({0, *powers, epochs})


def snapshot_bytes(model):
    """The bytes of one snapshot of `model`: two per weight."""
    return 2 * sum(int(np.prod(weight.shape)) for weight in model.weights)


def snapshots_dir(model_path):
    """Where the snapshots of a model file are: its run's `snapshots/` for a run's model or checkpoint, else
    `<stem>.snapshots/` beside the file."""
    path = pathlib.Path(model_path)
    if path.name in ("model.keras", "checkpoint.keras") and (path.parent / "config.json").exists():
        return path.parent / "snapshots"
    return path.with_name(f"{path.stem}.snapshots")


def snapshot_path(folder, epoch):
    return pathlib.Path(folder) / f"epoch-{epoch:03d}.npz"


def save(model, folder, epoch):
    """Writes the weights of `model` as `folder`'s snapshot of `epoch` (atomically, vgg/core/files.py)."""
    write_weights(model.get_weights(), folder, epoch)


def write_weights(weights, folder, epoch):
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    # A diverged run's weights past float16's range are kept as infinities, which is what they are becoming.
    with np.errstate(over="ignore"):
        weights = {f"w{index:03d}": np.asarray(weight, np.float16) for index, weight in enumerate(weights)}
    with replacing(snapshot_path(folder, epoch), f"the snapshot of epoch {epoch}") as temporary:
        np.savez_compressed(temporary, **weights)  # A tenth smaller; loading stays in milliseconds.


def epochs_of(model_path):
    """The epochs with a snapshot for the model file `model_path`, in order (empty when it has none)."""
    folder = snapshots_dir(model_path)
    if not folder.is_dir():
        return []
    return sorted(int(match[1]) for file in folder.iterdir() if (match := EPOCH_FILE.fullmatch(file.name)))


def file_epoch(model_path):
    """The epoch the model file itself is at: a checkpoint's recorded epochs, a shipped model's card's, else (a
    run's final model) its last snapshot's; None when none is known."""
    path = pathlib.Path(model_path)
    record = path.parent / "checkpoint.json" if path.name == "checkpoint.keras" else path.with_suffix(".json")
    epochs = (read_json(record) or {}).get("epochs_done" if path.name == "checkpoint.keras" else "epochs")
    if isinstance(epochs, int) and not isinstance(epochs, bool):
        return epochs
    epochs = epochs_of(path)
    return epochs[-1] if epochs else None


def logged_accuracies(model_path):
    """{epoch: validation accuracy on the images alone} as the model's run logged it, or as its card kept it."""
    from vgg.runs.folder import Run

    path = pathlib.Path(model_path)
    card = read_json(path.with_suffix(".json"))
    if isinstance(card, dict) and isinstance(card.get("epoch_val_accuracy"), dict):
        return {int(epoch): value for epoch, value in card["epoch_val_accuracy"].items()}
    run = Run(snapshots_dir(path).parent)
    if snapshots_dir(path).name != "snapshots" or not run.exists():
        return {}
    try:
        rows = run.metrics().epochs
    except UserError:
        return {}
    return {row.epoch: row.val_accuracy for row in rows if row.val_accuracy is not None}


def why_none(model_path):
    """One sentence saying why the model file has no snapshots."""
    skipped = read_json(snapshots_dir(model_path) / SKIPPED_FILE)  # A damaged note is as good as none.
    if isinstance(skipped, dict) and isinstance(skipped.get("reason"), str):
        return skipped["reason"]
    return ("This model has no snapshots of earlier epochs: it was trained before runs kept them, or elsewhere; "
            "a new run keeps them.")


def weights_at(model_path, epoch):
    """The weights (float16 arrays, in `model.get_weights()` order) of the snapshot of `epoch`."""
    path = snapshot_path(snapshots_dir(model_path), epoch)
    try:
        with np.load(path, allow_pickle=False) as file:
            return [file[name] for name in sorted(file.files)]
    except FileNotFoundError:
        raise SnapshotError(f"There is no snapshot of epoch {epoch} for {pathlib.Path(model_path).name}.") from None
    except (OSError, ValueError) as error:
        raise SnapshotError(f"The snapshot of epoch {epoch} cannot be read ({type(error).__name__}).") from None


def load_epoch(model, model_path, epoch):
    """Sets the weights of `model` (loaded from `model_path`) to those of its snapshot of `epoch`; returns it."""
    weights = weights_at(model_path, epoch)
    shapes = [tuple(weight.shape) for weight in model.weights]
    if [tuple(weight.shape) for weight in weights] != shapes:
        raise SnapshotError(f"The snapshot of epoch {epoch} does not fit this model's layers.")
    model.set_weights([weight.astype(variable.dtype) for weight, variable in zip(weights, model.weights, strict=True)])
    return model


class SnapshotSaver(keras.callbacks.Callback):
    """Saves the run's snapshots at its planned epochs; epoch 0 only when the run starts from scratch, so a
    resumed run keeps the ones it saved before. A model over MAX_SNAPSHOT_BYTES keeps none and says why."""

    def __init__(self, run, epochs, epochs_done, stopper):
        super().__init__()
        self.stopper = stopper
        self.folder = run.path / "snapshots"
        self.planned = planned_epochs(epochs)
        self.epochs_done = epochs_done
        self.enabled = True

    def on_train_begin(self, logs=None):
        size = snapshot_bytes(self.model)
        self.enabled = size <= MAX_SNAPSHOT_BYTES
        if not self.enabled:
            self.folder.mkdir(parents=True, exist_ok=True)
            reason = (f"This run keeps no snapshots of earlier epochs: its weights take {size / 2**20:.0f} MB in "
                      f"float16, over the limit of {MAX_SNAPSHOT_BYTES // 2**20} MB per snapshot.")
            write_json(self.folder / SKIPPED_FILE, {"reason": reason, "bytes": size}, "the snapshot note")
        elif self.epochs_done == 0:
            self.save(0)

    def on_epoch_end(self, epoch, logs=None):
        # An epoch cut short by a stop is trained again on resuming, and saved then.
        if self.enabled and epoch + 1 in self.planned and not self.stopper.mid_epoch:
            self.save(epoch + 1)

    def save(self, epoch):
        """Saves a snapshot; one that cannot be written (a full disk) ends the snapshots, never the training,
        since they are extras: the checkpoint's own write says what is wrong in the run's words."""
        try:
            save(self.model, self.folder, epoch)
        except (WriteError, OSError) as error:  # OSError: the snapshots folder cannot be made.
            self.enabled = False
            with contextlib.suppress(WriteError, OSError):
                write_json(self.folder / SKIPPED_FILE, {"reason": f"This run stopped keeping snapshots at epoch "
                                                                  f"{epoch}: {str(error)[0].lower()}{str(error)[1:]}"})


def ship(run, assets_dir, stem):
    """Copies a finished run's final model (float16 weights, as vgg/training/export.py ships), its snapshots but the
    last (the model file is that epoch) and a card (the JSON vgg/runs/record.py reads) into `assets_dir` as
    `<stem>.keras`, `<stem>.snapshots/` and `<stem>.json`; returns the model's path there."""
    from vgg.data.cifar10 import CLASS_NAMES
    from vgg.runs.record import ModelRecord
    from vgg.training.export import write_float16_model

    assets_dir = pathlib.Path(assets_dir)
    record = ModelRecord.of(run.model_path)
    if not run.model_path.exists() or record.config is None:
        raise SnapshotError(f"Run {run.name!r} has no final model to ship.")
    target = assets_dir / f"{stem}.keras"
    folder = snapshots_dir(target)
    folder.mkdir(parents=True, exist_ok=True)
    for epoch in epochs_of(run.model_path)[:-1]:
        write_weights(weights_at(run.model_path, epoch), folder, epoch)
    with replacing(target, f"assets/{target.name}") as temporary:
        write_float16_model(run.model_path, temporary)
    write_json(target.with_suffix(".json"), {
        "model_file": target.name, "run": run.name, "config": dataclasses.asdict(record.config),
        "class_names": list(CLASS_NAMES), "epochs": record.epochs, "wall_time_seconds": record.wall_time_seconds,
        "val_accuracy": record.val_accuracy, "validation_size": record.config.validation_size,
        "command": record.command, "started_from": record.started_from, "unsure_below": record.unsure_below,
        "snapshot_epochs": epochs_of(target), "epoch_val_accuracy": logged_accuracies(run.model_path),
    }, f"assets/{target.stem}.json")
    return target


def time_switches(model_path, runs_dir="runs", repeats=5):
    """{epoch: (ms to a first answer from a new model at that epoch, ms of later answers)}: what a first move of the
    slider to an epoch costs (load, set weights, trace), and a move back to it once its Predictor is cached."""
    from vgg.explain.predictor import Predictor, load_model
    from vgg.model.device import limit_serving_threads

    limit_serving_threads()  # As the server answers.
    image = np.random.default_rng(0).integers(0, 256, (32, 32, 3)).astype(np.uint8)
    timings = {}
    for epoch in epochs_of(model_path):
        start = time.perf_counter()
        predictor = Predictor(load_epoch(load_model(model_path, runs_dir), model_path, epoch))
        predictor.top_k(image)
        first = time.perf_counter() - start
        start = time.perf_counter()
        for _ in range(repeats):
            predictor.top_k(image)
        timings[epoch] = (1000 * first, 1000 * (time.perf_counter() - start) / repeats)
    return timings


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m vgg.training.snapshots", description="Ship or time a run's snapshots.")
    parser.add_argument("--ship", metavar="RUN_FOLDER", help="copy a finished run's model and snapshots to assets/")
    parser.add_argument("--stem", default="vgg16_cpu_snapshots", help="the file name in assets/, without .keras")
    parser.add_argument("--time", metavar="MODEL_FILE", help="time loading each snapshot of this model file")
    arguments = parser.parse_args(argv)
    if arguments.ship:
        from vgg.runs.folder import Run
        from vgg.runs.record import ASSETS_DIR

        arguments.time = arguments.time or str(ship(Run(arguments.ship), ASSETS_DIR, arguments.stem))
    if arguments.time:
        folder = snapshots_dir(arguments.time)
        sizes = [file.stat().st_size for file in folder.glob("epoch-*.npz")]
        print(f"{len(sizes)} snapshots in {folder}: {sum(sizes) / 2**20:.2f} MB, {max(sizes) / 2**20:.2f} MB each")
        for epoch, (first, later) in time_switches(arguments.time, pathlib.Path(arguments.time).parent).items():
            print(f"epoch {epoch}: first answer {first:.0f} ms, later {later:.1f} ms")


if __name__ == "__main__":
    main()
