"""The Keras callbacks of a run: log metrics live, stop on request, checkpoint after every epoch."""

import contextlib
import math
import signal
import threading
import time

import keras

from vgg.core.files import replacing
from vgg.core.phases import SAVING
from vgg.runs.folder import CheckpointState
from vgg.runs.metrics import BatchRow, EpochRow, row_line


def saving(clock):
    """The block counted as the run's `saving` phase, when it has a phase clock."""
    return clock.during(SAVING) if clock is not None else contextlib.nullcontext()


def current_learning_rate(optimizer):
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


class RunLogger(keras.callbacks.Callback):
    """Appends batch and epoch lines to metrics.jsonl, flushed at once so the app can draw them live."""

    def __init__(self, run, config, images_per_epoch, steps_per_epoch, started_elapsed, stopper):
        super().__init__()
        self.stopper = stopper
        self.run = run
        self.config = config
        self.images_per_epoch = images_per_epoch
        self.steps_per_epoch = steps_per_epoch
        self.elapsed_before = started_elapsed  # Training seconds of earlier sessions of this run.
        # Kept open across batches and epochs, closed in on_train_end.
        self.file = open(run.metrics_path, "a")  # noqa: SIM115

    def on_train_begin(self, logs=None):
        self.start = time.monotonic()
        self.last_time = self.start
        self.last_step = self.global_step()

    def global_step(self):
        return int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))

    def elapsed(self):
        return self.elapsed_before + time.monotonic() - self.start

    def write(self, row):
        self.file.write(row_line(row))
        self.file.flush()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.batches_in_epoch = 0
        self.epoch_started = self.elapsed()
        # Keras reports running means that restart every epoch; the logger turns them into the
        # mean over each logging interval, so curves do not jump at epoch boundaries.
        self.sums_at_last_log = {"loss": 0.0, "accuracy": 0.0}
        self.batches_at_last_log = 0

    def interval_means(self, batches_done, logs):
        means = {}
        for key, last_sum in self.sums_at_last_log.items():
            total = float(logs[key]) * batches_done
            means[key] = (total - last_sum) / max(batches_done - self.batches_at_last_log, 1)
            self.sums_at_last_log[key] = total
        self.batches_at_last_log = batches_done
        return means

    def on_train_batch_end(self, batch, logs=None):
        self.batches_in_epoch = batch + 1
        now = time.monotonic()
        is_last = batch + 1 == self.steps_per_epoch
        if now - self.last_time < self.config.log_every_seconds and not is_last:
            return
        step = self.global_step()
        images_per_second = (step - self.last_step) * self.config.batch_size / max(now - self.last_time, 1e-9)
        self.last_time, self.last_step = now, step
        means = self.interval_means(batch + 1, logs)
        self.write(
            BatchRow(
                step=step,
                epoch=self.epoch + (batch + 1) / self.steps_per_epoch,
                loss=means["loss"],
                accuracy=means["accuracy"],
                learning_rate=current_learning_rate(self.model.optimizer),
                images_per_second=round(images_per_second, 1),
                elapsed=round(self.elapsed(), 2),
            )
        )

    def on_epoch_end(self, epoch, logs=None):
        if self.stopper.mid_epoch:
            return  # Not an epoch: its numbers would describe a fraction of one.
        logs = logs or {}
        # Below 1 when a time budget ended the epoch early: the run's last row, with its validation pass.
        share = min(1.0, self.batches_in_epoch / self.steps_per_epoch)
        self.write(
            EpochRow(
                step=self.global_step(),
                epoch=epoch + 1 if share == 1.0 else round(epoch + share, 4),
                loss=float(logs.get("loss", math.nan)),
                accuracy=float(logs.get("accuracy", math.nan)),
                val_loss=float(logs["val_loss"]) if "val_loss" in logs else None,
                val_accuracy=float(logs["val_accuracy"]) if "val_accuracy" in logs else None,
                learning_rate=current_learning_rate(self.model.optimizer),
                # Includes the validation pass: the rate a user waits at, not the kernel's peak.
                images_per_second=round(
                    share * self.images_per_epoch / max(self.elapsed() - self.epoch_started, 1e-9), 1
                ),
                elapsed=round(self.elapsed(), 2),
            )
        )

    def on_train_end(self, logs=None):
        self.file.close()


class StopRequest:
    """Whether this run should stop: SIGTERM, a stop file, or the class's time limit (`deadline`).

    The handler is installed when training starts (before the data loads), so a Stop pressed
    while the run prepares still ends in a clean `stopped`. Whoever starts a run removes the stop
    file an earlier session left (vgg/runs/queue.py enqueue, vgg/training/trainer.py train_run), so any stop
    file is a request to this session.
    """

    def __init__(self, run):
        self.run = run
        self.signalled = False
        self.deadline = None  # time.monotonic() when the class's time limit ends the training.

    def __enter__(self):
        # Only a main thread may take signals: a trainer in a thread (a cluster worker's) stops by the file alone.
        self.in_main_thread = threading.current_thread() is threading.main_thread()
        if self.in_main_thread:
            self.previous_handler = signal.signal(signal.SIGTERM, self._on_signal)
        return self

    def __exit__(self, *exception):
        if self.in_main_thread:
            signal.signal(signal.SIGTERM, self.previous_handler)

    def _on_signal(self, signum, frame):
        self.signalled = True

    @property
    def out_of_time(self):
        return self.deadline is not None and time.monotonic() >= self.deadline

    @property
    def requested(self):
        return self.signalled or self.out_of_time or self.run.stop_path.exists()


class StopOnRequest(keras.callbacks.Callback):
    """Sets `stop_training` after the batch during which a stop was requested."""

    def __init__(self, stop_request, steps_per_epoch):
        super().__init__()
        self.stop_request = stop_request
        self.steps_per_epoch = steps_per_epoch
        self.requested = False
        self.mid_epoch = False  # Keras still ends the epoch (validation, epoch callbacks) after a stop.

    def on_train_batch_end(self, batch, logs=None):
        if not self.requested and self.stop_request.requested:
            self.requested = True
            self.mid_epoch = batch + 1 < self.steps_per_epoch
            self.model.stop_training = True


class Checkpointer(keras.callbacks.Callback):
    """Saves model and optimizer after every complete epoch and on a stop (a student's run's after its first
    epoch only), replacing files atomically."""

    def __init__(self, run, stopper, logger, epochs_done, clock=None):
        super().__init__()
        self.clock = clock  # The run's PhaseClock, which counts the saves as `saving`.
        self.run = run
        self.stopper = stopper
        self.logger = logger
        self.epochs_done = epochs_done
        self.student = run.recorded_status().student

    def save(self):
        with saving(self.clock):
            with replacing(self.run.checkpoint_path, f"the checkpoint of run {self.run.name!r}") as temporary:
                self.model.save(temporary)
            # Written after the model: if a crash falls between the two, resuming reads the position
            # from the checkpoint's own optimizer (vgg/training/trainer.py, checkpoint_position).
            self.run.save_checkpoint_state(
                CheckpointState(self.epochs_done, self.logger.global_step(), self.logger.elapsed())
            )

    def on_epoch_end(self, epoch, logs=None):
        if self.stopper.mid_epoch:
            return  # An epoch cut short by a stop is not done; resuming trains it again.
        self.epochs_done = epoch + 1
        self.save()

    def on_train_end(self, logs=None):
        if self.stopper.mid_epoch and self.keeps_stop_checkpoint():
            self.save()

    def keeps_stop_checkpoint(self):
        """Whether a stop mid-epoch saves a checkpoint: a student's run's only once an epoch has finished, as a
        stop after a few batches of the first would keep a checkpoint as large as any (up to 400 MB) for almost
        no training, and a class's disk fills with them; anyone else's always, to resume a long first epoch."""
        return self.epochs_done > 0 or not self.student
