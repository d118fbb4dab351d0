"""How long a run still takes: what is left of each of its phases (vgg/core/phases.py), from its own pace where it
has measured one and from the estimate before it started (vgg/core/estimate.py) for the rest."""

import time

from vgg.core.phases import AVERAGING, PREPARING, SAVING, SCORING, TRAINING, VALIDATING, past_preparing, spent
from vgg.runs.status import PROCESS_STATES


def seconds_left(config, status, metrics, guess, now=None):
    """Seconds until a run with `config`, `status` and `metrics` ends, given `guess`, the Estimate of its whole run:
    all of it before it starts; then each phase's share of the guess not yet done, where training goes at the
    run's own pace once it has one, and the current validation or scoring pass at its own pace so far."""
    phases = guess.phases
    if status.state not in PROCESS_STATES or not phases:
        return guess.seconds
    seconds = spent(status, now)
    epochs_done = metrics.batches[-1].epoch if metrics.batches else 0.0
    validated = len(metrics.epochs)  # Epochs whose validation pass (and checkpoint) ended.
    left = {PREPARING: 0.0}
    if status.phase == PREPARING or (status.phase is None and not metrics.batches):
        left[PREPARING] = max(0.0, phases[PREPARING] - seconds.get(PREPARING, 0.0))
    if config.minutes:  # Its end is its budget past preparing, whatever its pace (vgg/training/time_budget.py).
        return left[PREPARING] + max(0.0, config.minutes * 60 - past_preparing(status, now))
    training_pace = seconds.get(TRAINING, 0.0) / epochs_done if epochs_done and seconds.get(TRAINING) else None
    left[TRAINING] = (config.epochs - epochs_done) * (training_pace or phases[TRAINING] / config.epochs)
    validations = config.epochs - validated
    left[VALIDATING] = validations * phases.get(VALIDATING, 0.0) / config.epochs
    scoring = status.phase == SCORING  # The final model is averaged and saved by then.
    left[SAVING] = 0.0 if scoring else (config.epochs + 1 - validated) * phases.get(SAVING, 0.0) / (config.epochs + 1)
    left[AVERAGING] = 0.0 if scoring else phases.get(AVERAGING, 0.0)
    left[SCORING] = phases.get(SCORING, 0.0)
    if status.phase in (VALIDATING, SCORING) and status.phase_total and status.phase_started is not None:
        share = phases.get(status.phase, 0.0) / (config.epochs if status.phase == VALIDATING else 1)
        in_it = (time.time() if now is None else now) - status.phase_started
        left[status.phase] += _pass_left(status, share, in_it) - share
    return sum(max(0.0, value) for value in left.values())


def _pass_left(status, share, seconds_in_it):
    """What is left of the pass over images under way, estimated to take `share` seconds: at its own pace once it
    has done some images in `seconds_in_it` seconds, else its unfinished part of `share`."""
    done, total = status.phase_done or 0, status.phase_total
    if seconds_in_it > 0 and done:
        return seconds_in_it * (total - done) / done
    return share * (total - done) / total
