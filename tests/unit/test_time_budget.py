"""A run given minutes: its setting's checks, its clock-driven learning rate, the reserve for its end, and the
estimate, time left and class limit that follow its budget rather than its epochs."""

import dataclasses
import time

import pytest

from helpers import TINY_EXPERIMENT, assert_one_sentence, experiment_file, tiny_config
from vgg.classroom.experiments import load_experiments
from vgg.classroom.policy import ClassLimits, ClassroomError, check_student_start
from vgg.core.config import SettingError, epoch_cap, validate
from vgg.core.estimate import estimate
from vgg.core.phases import PREPARING, SAVING, TRAINING, VALIDATING
from vgg.core.words import setting_words
from vgg.runs.metrics import Metrics
from vgg.runs.status import RunStatus, State
from vgg.runs.time_left import seconds_left
from vgg.training.optimizer import budget_learning_rate, learning_rate_schedule
from vgg.training.time_budget import EndCosts, end_seconds


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"minutes": -1.0}, "minutes=-1.0"),
        ({"minutes": 0.05}, "minutes=0.05"),
        ({"minutes": "2"}, "minutes='2'"),
        ({"minutes": 2.0, "lookahead": True}, "lookahead=True, minutes=2.0"),
        ({"minutes": 2.0, "average_from_epoch": 1}, "average_from_epoch=1, minutes=2.0"),
    ],
)
def test_a_budget_that_cannot_work_is_refused_in_one_sentence(changes, named):
    with pytest.raises(SettingError) as refused:
        validate(tiny_config(**changes))
    assert_one_sentence(str(refused.value), named)


def test_a_budget_replaces_the_epochs():
    assert validate(tiny_config(minutes=2.0, epochs=1)).minutes == 2.0
    assert setting_words("minutes", 1.5) == "1.5 min of training"
    assert epoch_cap(tiny_config(minutes=2.0, epochs=1)) == 1000
    assert epoch_cap(tiny_config(epochs=7)) == 7


def test_the_learning_rate_follows_the_clock_from_a_warm_up_down_to_zero():
    config = tiny_config(minutes=1.0, learning_rate=0.1, warmup_epochs=1.0)
    steps = 100
    # The warm-up counts steps, from a hundredth of the peak.
    assert budget_learning_rate(config, 0, steps, 0.0) == pytest.approx(0.001)
    assert budget_learning_rate(config, 50, steps, 0.05) == pytest.approx(0.001 + 0.099 / 2)
    # Then half a cosine wave over the time: half the peak at half the time, nothing when it runs out.
    rates = [budget_learning_rate(config, 200, steps, fraction / 10) for fraction in range(11)]
    assert rates[0] == pytest.approx(0.1) and rates[5] == pytest.approx(0.05) and rates[10] == pytest.approx(0)
    assert rates == sorted(rates, reverse=True)
    assert budget_learning_rate(config, 200, steps, 1.3) == pytest.approx(0)
    # A budget too short for the warm-up: the cosine wins, so the end still comes down to zero.
    assert budget_learning_rate(config, 60, steps, 0.99) < 0.001
    # The optimizer starts at the warm-up's first value, a plain number the clock then sets at every step.
    assert learning_rate_schedule(config, steps) == pytest.approx(0.001)
    assert budget_learning_rate(tiny_config(minutes=1.0, schedule="constant"), 60, steps, 0.9) == 0.05


def test_the_end_is_reserved_from_the_run_s_own_times():
    # Measured: the score's forward pass 1 ms an image when a step took 0.1 s, a validation pass 0.8 of that per
    # image, 0.5 s of saves at an epoch's end; the end is a pass, two views scored, the epoch's saves and the final
    # model's (the run traced both passes while preparing, so no tracing is left for the end).
    measured = EndCosts(0.1, 64, forward=(0.001, 0.1), validation_share=0.8, epoch_end_saves=0.5, weights=10_000)
    assert end_seconds(measured, 500, 2) == pytest.approx(500 * 0.001 * (0.8 + 2) + 2 * 0.5)
    assert end_seconds(measured, 500, 1) == pytest.approx(500 * 0.001 * 1.8 + 1.0)
    # The machine's load doubled the steps since: the forward passes take twice as long too.
    slower = dataclasses.replace(measured, step_seconds=0.2)
    assert end_seconds(slower, 500, 2) == pytest.approx(500 * 0.002 * 2.8 + 1.0)
    # Before any timing: a forward pass costs a third of a training step per image, and a guessed save.
    unmeasured = EndCosts(0.064, 64)  # A step of 64 images in 64 ms.
    assert end_seconds(unmeasured, 3000, 2) == pytest.approx(3000 * 0.001 / 3 * 3 + 2 * 0.3)
    # No validation images: only the saves.
    assert end_seconds(measured, 0, 2) == pytest.approx(1.0)


def test_the_estimate_is_the_budget_after_preparing():
    config = tiny_config(minutes=2.0, epochs=1)
    guess = estimate(config, 45_000, [])
    assert guess.phases == {PREPARING: pytest.approx(30.0), TRAINING: 120.0}
    assert guess.seconds == pytest.approx(150.0)
    # The epochs are not its length: a hundred of them change nothing.
    assert estimate(config.replace(epochs=100), 45_000, []).seconds == guess.seconds


def test_the_time_left_is_what_remains_of_the_budget():
    config = tiny_config(minutes=2.0, epochs=1)
    guess = estimate(config, 1000, [])
    now = time.time()
    preparing = RunStatus(state=State.RUNNING, phase=PREPARING, phase_started=now - 10, phase_seconds={})
    assert seconds_left(config, preparing, Metrics(), guess, now) == pytest.approx(20.0 + 120.0)
    validating = RunStatus(
        state=State.RUNNING,
        phase=VALIDATING,
        phase_started=now - 5,
        phase_total=500,
        phase_done=100,
        phase_seconds={PREPARING: 30.0, TRAINING: 60.0, SAVING: 5.0},
    )
    assert seconds_left(config, validating, Metrics(), guess, now) == pytest.approx(120.0 - 70.0)


def test_the_class_limit_holds_the_budget_not_the_epochs():
    limits = ClassLimits(max_estimated_minutes=5.0)
    check_student_start([], tiny_config(minutes=5.0, epochs=1000, width=1.0), "Ada", limits)
    with pytest.raises(ClassroomError, match="train for 6 min .* limit is 5 min") as refused:
        check_student_start([], tiny_config(minutes=6.0, epochs=1), "Ada", limits)
    assert_one_sentence(str(refused.value))


def test_an_experiment_may_give_its_runs_minutes(tmp_path):
    experiment_file(tmp_path, "timed", TINY_EXPERIMENT.replace("epochs = 4", "minutes = 1.5"))
    experiment_file(tmp_path, "too-short", TINY_EXPERIMENT.replace("epochs = 4", "minutes = 0.01"))
    experiments, errors = load_experiments(tmp_path)
    assert [experiment.config().minutes for experiment in experiments] == [1.5]
    assert len(errors) == 1 and "minutes=0.01" in errors[0], errors
