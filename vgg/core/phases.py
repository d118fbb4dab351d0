"""The phases of a training run, in the order a run first meets them, and their words for users (no TensorFlow).

A run's status names its current phase (`phase`), when it began (`phase_started`), its images done of the total
while it counts images (`phase_done`, `phase_total`), and the seconds spent in each phase so far
(`phase_seconds`); the estimate before a run (vgg/core/estimate.py) is the sum of the same phases.
"""

import time

PREPARING = "preparing"  # Python, TensorFlow, the data and the model, until the first training batch ends.
TRAINING = "training"
VALIDATING = "validating"  # The validation pass at the end of each epoch.
SAVING = "saving"  # The checkpoint and snapshots of each epoch, and the final model.
AVERAGING = "averaging"  # Only when the settings average the last epochs' weights.
SCORING = "scoring"  # The final model on the validation images, as Predict computes it.
# After scoring, the run is finished for its users, and its process computes what the pages would on first view
# (vgg/explain/ready.py); `phase_done` of `phase_total` then counts analyses, not images.
ANALYSING = "analysing"
PHASES = (PREPARING, TRAINING, VALIDATING, SAVING, AVERAGING, SCORING, ANALYSING)

# What a progress line says a run is doing.
WORDS = {
    PREPARING: "preparing data and model",
    TRAINING: "training",
    VALIDATING: "checking on the validation images",
    SAVING: "saving the model",
    AVERAGING: "averaging the weights of its last epochs",
    SCORING: "scoring the final model",
    ANALYSING: "preparing its analyses for Mistakes and Inside VGG16",
}
# The same, in one word each, for a breakdown ("15 s preparing, 60 s training").
SHORT_WORDS = {
    PREPARING: "preparing",
    TRAINING: "training",
    VALIDATING: "checking",
    SAVING: "saving",
    AVERAGING: "averaging",
    SCORING: "scoring",
    ANALYSING: "analysing",
}


def spent(status, now=None):
    """{phase: seconds} a run has spent in each phase, the current one up to `now` (time.time()): its
    `phase_seconds` hold the phases it left, and its current phase runs since `phase_started`."""
    seconds = dict(status.phase_seconds or {})
    if status.phase in PHASES and status.phase_started is not None:
        now = time.time() if now is None else now
        seconds[status.phase] = seconds.get(status.phase, 0.0) + max(0.0, now - status.phase_started)
    return seconds


def past_preparing(status, now=None):
    """Seconds a run has spent past `preparing` up to `now`, until it finished: what a run given minutes counts
    against its budget (its analyses come after its end)."""
    return sum(seconds for phase, seconds in spent(status, now).items() if phase not in (PREPARING, ANALYSING))
