"""A run given minutes (TrainConfig.minutes): its learning rate follows the clock, and its training stops early
enough that what follows the last step (the last validation pass, the saves, the final score) ends on the budget.

The budget counts the run's time past `preparing` (vgg/training/phase_clock.py), over all its sessions. What its
end takes is measured from the run itself: its validation passes (the first one traces the model, as the final
score does again on the saved model) and the seconds its epoch ends spend beyond their validation pass (saves).
Before its first validation pass, it times its model's forward pass on a batch of validation images instead.
"""

import collections
import dataclasses
import statistics
import time

import keras

from vgg.core.estimate import DEFAULT_SAVING_SECONDS_PER_WEIGHT
from vgg.training.optimizer import budget_learning_rate

# Until the run has timed them: a forward pass costs a third of a training step per image (as vgg/core/estimate.py
# counts), tracing a model's forward pass takes a few seconds on a 2-core CPU, and a save has a fixed cost beside
# its bytes.
FORWARD_SHARE = 1 / 3
TRACE_GUESS_SECONDS = 2.0
SAVE_GUESS_SECONDS = 0.3
SCORE_TRACE_SHARE = 0.5
# The step time is the median of the latest steps: recent, as a shared machine's load changes, and deaf to the few
# steps that trace the doctor's probes. Fewer than MEASURED_STEPS say nothing yet: the first steps after tracing run
# several times slower than the rest, so the run trains on (at most to its budget) until it has timed enough.
RECENT_STEPS = 15
MEASURED_STEPS = 5


@dataclasses.dataclass(frozen=True)
class EndCosts:
    """What a run has measured of the work that follows its last step."""

    step_seconds: float | None  # One training step, between two steps of an epoch.
    batch_size: int
    validation_passes: tuple = ()  # Seconds of each validation pass of this session, the first one tracing.
    # Seconds an epoch's end spends beyond its validation pass: the median of those measured, as the epochs that
    # also keep a snapshot (vgg/runs/snapshots.py) take longer than the rest.
    epoch_end_saves: float | None = None
    weights: int = 0  # The model's weights, for a save's cost until one is measured.
    # (Seconds per image, seconds of tracing) of the model's forward pass, timed before any validation pass.
    forward: tuple | None = None


def end_seconds(costs, val_images, score_views):
    """Seconds from the last step to the end of the final score: a validation pass, the epoch end's saves and
    the final model's, and the score (`score_views` passes over the validation images on a model traced anew)."""
    passes = costs.validation_passes
    if costs.forward is not None:
        forward, first_trace = val_images * costs.forward[0], costs.forward[1]
    else:
        forward = val_images * (costs.step_seconds or 0.0) / costs.batch_size * FORWARD_SHARE
        first_trace = TRACE_GUESS_SECONDS
    if len(passes) > 1:  # The latest pass, at the machine's load now; the first one's excess was its tracing.
        steady, trace = passes[-1], max(0.0, passes[0] - min(passes[1:]))
    elif passes:  # A small model's first pass is mostly tracing: its images take a forward pass's time at most.
        steady = min(forward, passes[0])
        trace = passes[0] - steady
    else:
        steady, trace = forward, first_trace
    validation = steady if passes else steady + trace  # The first validation pass traces fit's own.
    if not val_images:
        validation = steady = trace = 0.0
    if costs.epoch_end_saves is not None:
        saves = costs.epoch_end_saves
    else:
        saves = SAVE_GUESS_SECONDS + costs.weights * DEFAULT_SAVING_SECONDS_PER_WEIGHT
    # The score traces the saved model's forward pass anew: about half of what fit's first validation pass added,
    # which also built its test step and metrics (as the tiny runs of tests/training/test_time_budget_run.py showed).
    return validation + 2 * saves + SCORE_TRACE_SHARE * trace + score_views * steady


class TimeBudget(keras.callbacks.Callback):
    """Sets the learning rate at every step from the share of the training time used, and stops the training
    when what is left of the budget is what the run's end takes (`reached` then)."""

    def __init__(self, config, steps_per_epoch, clock, val_images, initial_step=0, probe_images=None):
        super().__init__()
        self.probe_images, self.forward = probe_images, None  # A batch of validation images, float32 0-255.
        self.config, self.steps_per_epoch, self.clock = config, steps_per_epoch, clock
        self.val_images, self.score_views = val_images, 2 if config.augment else 1
        self.budget = config.minutes * 60
        self.step = initial_step
        self.reached = False
        self.intervals = collections.deque(maxlen=RECENT_STEPS)
        self.last_step_at = self.epoch_ended_at = self.test_started = None
        self.passes, self.epoch_end_saves = [], []

    def costs(self):
        step_seconds = statistics.median(self.intervals) if len(self.intervals) >= MEASURED_STEPS else None
        weights = self.model.count_params() if self.model is not None else 0
        saves = statistics.median(self.epoch_end_saves) if self.epoch_end_saves else None
        return EndCosts(step_seconds, self.config.batch_size, tuple(self.passes), saves, weights, self.forward)

    def time_forward(self):
        """(Seconds per image, seconds of tracing) of the model's forward pass on a batch of validation images, run
        twice: until its first validation pass, the run's end would otherwise be a guess from its training speed."""
        seconds = []
        for _ in range(2):
            started = time.monotonic()
            self.model.predict_on_batch(self.probe_images)
            seconds.append(time.monotonic() - started)
        return seconds[1] / len(self.probe_images), max(0.0, seconds[0] - seconds[1])

    def on_epoch_begin(self, epoch, logs=None):
        self.last_step_at = None  # The first step of an epoch follows the last epoch's end, not a step.

    def on_test_begin(self, logs=None):
        self.test_started = time.monotonic()

    def on_test_end(self, logs=None):
        self.passes.append(time.monotonic() - self.test_started)

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_ended_at = self.last_step_at

    def on_train_batch_end(self, batch, logs=None):
        now = time.monotonic()
        self.step += 1
        if self.last_step_at is not None:
            self.intervals.append(now - self.last_step_at)
        elif self.epoch_ended_at is not None and self.intervals:
            gap = now - self.epoch_ended_at - statistics.median(self.intervals)
            self.epoch_end_saves.append(max(0.0, gap - (self.passes[-1] if self.passes else 0.0)))
        untimed = self.forward is None and not self.passes and self.probe_images is not None
        if untimed and len(self.intervals) >= MEASURED_STEPS:
            self.forward = self.time_forward()
        self.last_step_at = time.monotonic()  # After any timing, which is no step.
        costs = self.costs()
        timed = costs.step_seconds is not None
        training_ends = self.budget - end_seconds(costs, self.val_images, self.score_views) if timed else self.budget
        used = self.clock.past_preparing()
        fraction = used / max(training_ends, 1e-9)
        self.model.optimizer.learning_rate = budget_learning_rate(
            self.config, self.step, self.steps_per_epoch, fraction
        )
        # Half a step early: the step that follows ends as far past the budget as this one ends before it.
        if used + (costs.step_seconds or 0.0) / 2 >= training_ends:
            self.reached = True
            self.model.stop_training = True
            self.clock.update(
                f"Training stops at {used:.0f} s of its {self.budget:.0f} s budget: its last check, saves and final "
                f"score should take the other {self.budget - training_ends:.0f} s."
            )
