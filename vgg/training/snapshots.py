"""Keeps small copies of a run's weights while it trains (vgg/runs/snapshots.py reads them back)."""

import contextlib

import keras

from vgg.core.files import WriteError, write_json
from vgg.runs.snapshots import (
    MAX_SNAPSHOT_BYTES,
    SKIPPED_FILE,
    planned_epochs,
    save,
    snapshot_bytes,
)
from vgg.training.callbacks import saving


class SnapshotSaver(keras.callbacks.Callback):
    """Saves the run's snapshots at its planned epochs; epoch 0 only when the run starts from scratch, so a
    resumed run keeps the ones it saved before. A model over MAX_SNAPSHOT_BYTES keeps none and says why."""

    def __init__(self, run, epochs, epochs_done, stopper, clock=None):
        super().__init__()
        self.clock = clock
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
            reason = (
                f"This run keeps no snapshots of earlier epochs: its weights take {size / 2**20:.0f} MB in "
                f"float16, over the limit of {MAX_SNAPSHOT_BYTES // 2**20} MB per snapshot."
            )
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
            with saving(self.clock):
                save(self.model, self.folder, epoch)
        except (WriteError, OSError) as error:  # OSError: the snapshots folder cannot be made.
            self.enabled = False
            with contextlib.suppress(WriteError, OSError):
                write_json(
                    self.folder / SKIPPED_FILE,
                    {
                        "reason": f"This run stopped keeping snapshots at epoch "
                        f"{epoch}: {str(error)[0].lower()}{str(error)[1:]}"
                    },
                )
