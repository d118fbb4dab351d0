"""A run given minutes (TrainConfig.minutes): its learning rate follows the clock, and its training stops early
enough that what follows the last step (the last validation pass, the saves, the final score) ends on the budget.

The budget counts the run's time past `preparing` (vgg/training/phase_clock.py), over all its sessions. While the
run prepares, `prepare_end` traces the two functions its end runs (fit's validation step, the final score's forward
pass on the model as it will be saved), so that no tracing falls inside the budget, and times both warm at the same
load. The end is then forward passes and saves, reserved from what the run measured: the score's forward pass,
timed on a validation batch once the steps run steadily and again by every validation pass, each scaled by how the
steps' own time moved since (the machine's load moves both alike), and the seconds its epoch ends spend beyond
their validation pass (saves).
"""

import collections
import dataclasses
import statistics
import time

import keras

from vgg.core.estimate import DEFAULT_SAVING_SECONDS_PER_WEIGHT
from vgg.training.optimizer import budget_learning_rate

# Until the run has timed it: a forward pass costs a third of a training step per image (as vgg/core/estimate.py
# counts), and a save has a fixed cost beside its bytes.
FORWARD_SHARE = 1 / 3
SAVE_GUESS_SECONDS = 0.3
# The step time is the median of the latest steps: recent, as a shared machine's load changes, and deaf to the few
# steps that trace the doctor's probes. Fewer than MEASURED_STEPS say nothing yet: the first steps after tracing run
# several times slower than the rest, so the run trains on (at most to its budget) until it has timed enough.
RECENT_STEPS = 15
MEASURED_STEPS = 5


@dataclasses.dataclass(frozen=True)
class EndCosts:
    """What a run has measured of the work that follows its last step."""

    step_seconds: float | None  # One training step now: the median of the latest steps.
    batch_size: int
    # (Seconds per image of the final score's forward pass, the step's seconds when it was timed), or None.
    forward: tuple | None = None
    validation_share: float = 1.0  # A validation pass's seconds per image over the score's forward pass's.
    # Seconds an epoch's end spends beyond its validation pass: the median of those measured, as the epochs that
    # also keep a snapshot (vgg/runs/snapshots.py) take longer than the rest.
    epoch_end_saves: float | None = None
    weights: int = 0  # The model's weights, for a save's cost until one is measured.


def end_seconds(costs, val_images, score_views):
    """Seconds from the last step to the end of the final score: a validation pass, the epoch end's saves and
    the final model's, and the score (`score_views` forward passes over the validation images)."""
    step = costs.step_seconds or 0.0
    if costs.forward is not None and costs.forward[1] > 0:
        per_image = costs.forward[0] * (step / costs.forward[1] if step else 1.0)
    else:
        per_image = step / costs.batch_size * FORWARD_SHARE
    if costs.epoch_end_saves is not None:
        saves = costs.epoch_end_saves
    else:
        saves = SAVE_GUESS_SECONDS + costs.weights * DEFAULT_SAVING_SECONDS_PER_WEIGHT
    return val_images * per_image * (costs.validation_share + score_views) + 2 * saves


def warm_seconds(function, repeats=2):
    """The fastest of `repeats` timed calls of `function`: the load of a shared machine only ever adds."""
    seconds = []
    for _ in range(repeats):
        started = time.monotonic()
        function()
        seconds.append(time.monotonic() - started)
    return min(seconds)


def prepare_end(model, validation, scorer, probe):
    """Traces fit's validation step (on `validation`'s first batch) and `scorer`'s forward pass (on `probe`, that
    batch's images), as the first call of each would inside the budget; returns a validation pass's seconds per image
    over the score's, both timed warm."""
    first = validation.take(1)
    model.evaluate(first, verbose=0)  # Traces fit's own test step: Keras keeps one per model.
    scorer.probabilities(probe)
    validating = warm_seconds(lambda: model.evaluate(first, verbose=0))
    scoring = warm_seconds(lambda: scorer.probabilities(probe))
    return validating / max(scoring, 1e-9)


class TimeBudget(keras.callbacks.Callback):
    """Sets the learning rate at every step from the share of the training time used, and stops the training
    when what is left of the budget is what the run's end takes (`reached` then).

    `scorer` (a one-view vgg.explain.predictor.Predictor of the model as it will be saved) and `probe` (a batch of
    validation images, float32 0-255) time the final score's forward pass; call `prepare_end` before fitting."""

    def __init__(self, config, steps_per_epoch, clock, val_images, initial_step=0, scorer=None, probe=None):
        super().__init__()
        self.scorer, self.probe = scorer, probe
        self.config, self.steps_per_epoch, self.clock = config, steps_per_epoch, clock
        self.val_images, self.score_views = val_images, 2 if config.augment else 1
        self.budget = config.minutes * 60
        self.step = initial_step
        self.reached = False
        self.intervals = collections.deque(maxlen=RECENT_STEPS)
        self.last_step_at = self.epoch_ended_at = self.test_started = None
        self.forward, self.validation_share = None, 1.0
        self.last_pass, self.epoch_end_saves = None, []

    def prepare_end(self, model, validation):
        """Traces and times, before fit starts, what the run's end runs (the module's `prepare_end`)."""
        if self.scorer is not None and validation is not None:
            self.validation_share = prepare_end(model, validation, self.scorer, self.probe)

    def step_seconds(self):
        return statistics.median(self.intervals) if len(self.intervals) >= MEASURED_STEPS else None

    def costs(self):
        weights = self.model.count_params() if self.model is not None else 0
        saves = statistics.median(self.epoch_end_saves) if self.epoch_end_saves else None
        return EndCosts(
            self.step_seconds(), self.config.batch_size, self.forward, self.validation_share, saves, weights
        )

    def on_epoch_begin(self, epoch, logs=None):
        self.last_step_at = None  # The first step of an epoch follows the last epoch's end, not a step.

    def on_test_begin(self, logs=None):
        self.test_started = time.monotonic()

    def on_test_end(self, logs=None):
        self.last_pass = time.monotonic() - self.test_started
        step = self.step_seconds()
        if self.val_images and step:  # A whole pass's forward passes, at the steps' speed of its epoch's end.
            self.forward = (self.last_pass / self.val_images / self.validation_share, step)

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_ended_at = self.last_step_at

    def on_train_batch_end(self, batch, logs=None):
        now = time.monotonic()
        self.step += 1
        if self.last_step_at is not None:
            self.intervals.append(now - self.last_step_at)
        elif self.epoch_ended_at is not None and self.intervals:
            gap = now - self.epoch_ended_at - statistics.median(self.intervals)
            self.epoch_end_saves.append(max(0.0, gap - (self.last_pass or 0.0)))
        if self.forward is None and self.scorer is not None and len(self.intervals) >= MEASURED_STEPS:
            seconds = warm_seconds(lambda: self.scorer.probabilities(self.probe), repeats=1)
            self.forward = (seconds / len(self.probe), self.step_seconds())
        self.last_step_at = time.monotonic()  # After any timing, which is no step.
        self.follow_the_clock()

    def follow_the_clock(self):
        """Sets the learning rate from the share of the training time used; stops when the end's time is left."""
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
