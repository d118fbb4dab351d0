"""Small copies of a run's weights at a few epochs (0, 1, 2, 4, 8, ... and the last), so the Inside VGG16 page can
show a model as it was while it learned.

A run keeps them in `<run>/snapshots/epoch-NNN.npz`; a model file elsewhere (assets/) in `<model stem>.snapshots/`
beside it. Epoch 0 is the weights before any training. Each file holds every weight of `model.get_weights()` (batch
norm's statistics too) in float16, half the bytes of float32 and still exact to about 3 digits, which no picture shows.
"""

import math
import pathlib
import re

import numpy as np

from vgg.core.errors import UserError
from vgg.core.files import read_json, replacing
from vgg.runs.card import Card
from vgg.runs.folder import Run

SKIPPED_FILE = "none.json"  # Says why a run has no snapshots.
EPOCH_FILE = re.compile(r"epoch-(\d{3,})\.npz")
MAX_SNAPSHOT_BYTES = 5 * 2**20  # A larger model keeps none: eight of them would outweigh the run's checkpoint.


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
    if path.name in ("model.keras", "checkpoint.keras") and Run.is_run_folder(path.parent):
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
    if path.name == "checkpoint.keras":
        epochs = (read_json(path.parent / "checkpoint.json") or {}).get("epochs_done")
    else:
        epochs = getattr(Card.read(path), "epochs", None)
    if isinstance(epochs, int) and not isinstance(epochs, bool):
        return epochs
    epochs = epochs_of(path)
    return epochs[-1] if epochs else None


def logged_accuracies(model_path):
    """{epoch: validation accuracy on the images alone} as the model's run logged it, or as its card kept it."""
    path = pathlib.Path(model_path)
    card = Card.read(path)
    if card is not None and card.epoch_val_accuracy is not None:
        return card.epoch_val_accuracy
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
    return (
        "This model has no snapshots of earlier epochs: it was trained before runs kept them, or elsewhere; "
        "a new run keeps them."
    )


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
