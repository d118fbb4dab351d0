"""The run's phase clock: which phase it is in (vgg/core/phases.py), its images done while it validates or scores,
and the seconds each phase took, written to its status as it goes, so the page never sits silent and the next
estimate is measured."""

import contextlib
import os
import pathlib
import time

import keras

from vgg.core.phases import PREPARING, TRAINING, VALIDATING, WORDS

PROGRESS_SECONDS = 1.0  # At most one progress write a second: each takes the status lock and rewrites the file.


def process_start_time():
    """When this process started (seconds since 1970), from Linux's /proc; None elsewhere."""
    try:
        # Field 22 of /proc/self/stat, in clock ticks since boot; the name before it may hold spaces.
        ticks = int(pathlib.Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(pathlib.Path("/proc/uptime").read_text().split()[0])
        return time.time() - (uptime - ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return None


class PhaseClock(keras.callbacks.Callback):
    """Switches the run's phase and writes it through `update(message, **status fields)`; as a Keras callback it ends
    `preparing` at the first training batch and follows fit's validation pass (Keras 3 calls on_test_* there)."""

    def __init__(self, update, earlier_seconds, started_at, validation_batch=500):
        super().__init__()
        self.update = update
        self.validation_images = None  # Set once the data is loaded.
        self.seconds = dict(earlier_seconds or {})  # Earlier sessions' phases, added to this one's.
        self.validation_batch = validation_batch
        self.phase, self.since = PREPARING, started_at
        self.done = self.total = None
        self.last_write = 0.0
        self.update(phase=PREPARING, phase_started=started_at, phase_done=None, phase_total=None)

    def switch(self, phase, total=None):
        """Leaves the current phase for `phase` (counting `total` images when given) and writes it."""
        now = time.time()
        self.seconds[self.phase] = round(self.seconds.get(self.phase, 0.0) + now - self.since, 3)
        self.phase, self.since, self.done, self.total = phase, now, 0 if total else None, total or None
        self.update(
            phase=phase,
            phase_started=now,
            phase_done=self.done,
            phase_total=self.total,
            phase_seconds=dict(self.seconds),
        )
        self.last_write = time.monotonic()

    @contextlib.contextmanager
    def during(self, phase, total=None):
        """Counts the block as `phase`, then goes back to the phase before it."""
        before = self.phase
        self.switch(phase, total)
        try:
            yield
        finally:
            self.switch(before)

    def progress(self, done, total):
        """`done` of `total` images of the current phase, written (and said) about once a second and at the end."""
        self.done, self.total = done, total
        if done >= total or time.monotonic() - self.last_write >= PROGRESS_SECONDS:
            words = WORDS[self.phase]
            self.update(
                f"{words[0].upper()}{words[1:]}: {done:,} of {total:,} images.", phase_done=done, phase_total=total
            )
            self.last_write = time.monotonic()

    def past_preparing(self):
        """Seconds the run has spent past `preparing`, over all its sessions, up to now: what its time budget counts."""
        seconds = sum(value for phase, value in self.seconds.items() if phase != PREPARING)
        return seconds + (time.time() - self.since if self.phase != PREPARING else 0.0)

    def closed(self):
        """The status fields of a run no longer in any phase, its last phase counted."""
        now = time.time()
        self.seconds[self.phase] = round(self.seconds.get(self.phase, 0.0) + now - self.since, 3)
        self.since = now
        return {
            "phase": None,
            "phase_started": None,
            "phase_done": None,
            "phase_total": None,
            "phase_seconds": dict(self.seconds),
        }

    def on_train_batch_end(self, batch, logs=None):
        if self.phase == PREPARING:
            self.switch(TRAINING)

    def on_test_begin(self, logs=None):
        self.switch(VALIDATING, self.validation_images)

    def on_test_batch_end(self, batch, logs=None):
        if self.total:
            self.progress(min((batch + 1) * self.validation_batch, self.total), self.total)

    def on_test_end(self, logs=None):
        if self.phase == VALIDATING:
            self.switch(TRAINING)
