"""A run given minutes ends on its budget, scored: real TensorFlow on real CIFAR-10 images, a one-minute budget."""

import pytest

from helpers import SHARED_CIFAR10, real_cifar10, tiny_config
from vgg.core.phases import past_preparing
from vgg.runs.folder import create_run
from vgg.runs.status import State
from vgg.training.trainer import train_run

BUDGET_MINUTES = 1.0
# The product's promise: the final score ends within 5% of the budget (vgg/training/time_budget.py).
TOLERANCE = 0.05


@pytest.mark.skipif(not SHARED_CIFAR10.is_dir(), reason="needs ../shared/cifar10")
def test_a_one_minute_run_ends_scored_within_five_percent_of_its_budget(tmp_path):
    real_cifar10(tmp_path / "data", per_class=200, validation_size=500)
    # Augmented, so its final score averages mirror images, the longest end a run can have.
    config = tiny_config(
        minutes=BUDGET_MINUTES, batch_size=64, augment=True, warmup_epochs=0.5, validation_size=500, epochs=1
    )
    run = create_run(tmp_path / "runs", config)

    said = []
    status = train_run(run, data_dir=tmp_path / "data", progress=said.append)

    assert status.state == State.FINISHED, status.traceback
    # The budget counts what follows preparing, as the run's own phase clock recorded it: its training, validation
    # passes, saves and final score (not the analyses it prepares for the pages once finished).
    ended = past_preparing(status)
    stop = [line for line in said if line.startswith("Training stops at")]
    print(f"ended {ended:.1f} s after preparing, budget {BUDGET_MINUTES * 60:.0f} s: {status.phase_seconds}; {stop}")
    assert abs(ended - BUDGET_MINUTES * 60) <= TOLERANCE * BUDGET_MINUTES * 60, status.phase_seconds
    # Scored like any finished run: a model file, a final accuracy, and the last epoch's validation in the metrics,
    # well past the one epoch its settings name, which a budget ignores.
    assert run.model_path.is_file()
    assert status.final_accuracy is not None and status.final_accuracy > 0.2, status.final_accuracy
    metrics = run.metrics()
    last = metrics.epochs[-1]
    assert last.val_accuracy is not None and last.epoch > 1, last
    # Its learning rate followed the clock: near the peak early on, down to almost nothing at the end.
    rates = [row.learning_rate for row in metrics.batches]
    assert max(rates) > 0.5 * config.learning_rate and last.learning_rate < 0.02 * config.learning_rate, rates
