"""The Train page's "about N min on this machine": the sum of a run's phases, each timed by an earlier run here;
and the time left of a run under way, phase by phase."""

import os

import pytest

from vgg.core.config import preset
from vgg.core.estimate import (
    DEFAULT_GFLOPS,
    estimate,
    machine_gflops,
    parameter_count,
    phase_work,
    training_flops_per_image,
)
from vgg.core.phases import PREPARING, SAVING, SCORING, TRAINING, VALIDATING
from vgg.runs.folder import create_run, list_runs
from vgg.runs.metrics import BatchRow, EpochRow, Metrics, row_line
from vgg.runs.status import RunStatus, State
from vgg.runs.time_left import seconds_left


def run_with_epochs(runs_dir, name, speeds):
    """A cpu-preset run whose records say it trained one epoch at each of `speeds` images/s."""
    run = create_run(runs_dir, preset("cpu"), name=name)
    with open(run.metrics_path, "a") as file:
        for epoch, speed in enumerate(speeds, start=1):
            file.write(
                row_line(
                    EpochRow(
                        step=epoch * 175,
                        epoch=epoch,
                        loss=1.0,
                        accuracy=0.5,
                        val_loss=1.0,
                        val_accuracy=0.5,
                        learning_rate=0.1,
                        images_per_second=speed,
                        elapsed=40.0 * epoch,
                    )
                )
            )
    return run


def test_the_speed_comes_from_a_runs_later_epochs_not_its_first(tmp_path):
    config = preset("cpu")
    run_with_epochs(tmp_path, "measured", [25.0, 1000.0, 1100.0, 1050.0])
    gflops, measured_by = machine_gflops(config, list_runs(tmp_path))
    assert measured_by == "measured"
    assert gflops == 1050.0 * training_flops_per_image(config) / 1e9
    # Five epochs of 45,000 images (and a third of 5,000 for each validation pass) at 1,050 images/s.
    phases = estimate(config, 45_000, list_runs(tmp_path)).phases
    assert round(phases[TRAINING] + phases[VALIDATING]) == round(5 * (45_000 + 5_000 / 3) / 1050)


def test_a_run_stopped_in_its_first_epoch_measures_nothing(tmp_path):
    # A first epoch of a few hundred images is mostly start-up and tracing: 21 images/s would promise hours.
    run_with_epochs(tmp_path, "stopped-early", [21.0])
    assert machine_gflops(preset("cpu"), list_runs(tmp_path)) == (DEFAULT_GFLOPS, None)


# Phase records --------------------------------------------------------------------------------------------------

# What a one-epoch cpu-preset run on 3,000 images (5,000 validation images) recorded.
TIMED = {PREPARING: 15.0, TRAINING: 60.0, VALIDATING: 20.0, SAVING: 2.0, SCORING: 7.0}


def timed_run(runs_dir, name, config, seconds=TIMED, age=0, **status):
    """A finished run of `config` whose status recorded `seconds` per phase, `age` seconds older than the others."""
    run = create_run(runs_dir, config, name=name)
    run.update_status(
        state=State.FINISHED, train_images=3000, val_images=config.validation_size, phase_seconds=seconds, **status
    )
    mtime = run.config_path.stat().st_mtime - age
    os.utime(run.config_path, (mtime, mtime))
    return run


def test_a_one_epoch_run_times_each_phase_of_a_longer_one(tmp_path):
    measured = preset("cpu").replace(epochs=1, train_subset=3000)
    timed_run(tmp_path, "one-epoch", measured, title="first try · Ada")
    longer = measured.replace(epochs=4, train_subset=6000)
    guess = estimate(longer, 6000, list_runs(tmp_path))
    # Preparing is fixed; training scales with epochs x images; validating with epochs; saving with the saves
    # (a checkpoint per epoch and the final model); scoring once, on the same validation images.
    assert guess.phases == pytest.approx(
        {PREPARING: 15.0, TRAINING: 60.0 * 4 * 2, VALIDATING: 20.0 * 4, SAVING: 2.0 * 5 / 2, SCORING: 7.0}
    )
    assert guess.seconds == pytest.approx(sum(guess.phases.values()))
    assert (guess.measured_by, guess.measured_title) == ("one-epoch", "first try · Ada")


def test_the_work_of_each_phase_follows_the_settings():
    config = preset("cpu").replace(epochs=3, augment=True)
    flops = training_flops_per_image(config)
    work = phase_work(config, 1000, 500)
    assert work[TRAINING] == 3 * 1000 * flops
    assert work[VALIDATING] == 3 * 500 * flops / 3
    assert work[SCORING] == 2 * 500 * flops / 3  # Each image and its mirror image, as the final score averages.
    assert work[SAVING] == 4 * parameter_count(config)


def conv_flops(size, in_channels, channels):
    """A 3x3 conv's multiply-adds on `size` x `size` maps, 2 FLOPs each."""
    return 2 * size * size * 9 * in_channels * channels


def test_a_training_image_costs_three_forward_passes_of_the_conv_and_dense_layers():
    # VGG16 at 1/64 of its width, counted by hand: channels 1, 2, 4, 8 and 8 on maps of 32, 16, 8, 4 and 2 pixels
    # (five poolings), then the small head's Dense 8 and the 10 classes.
    forward = (
        conv_flops(32, 3, 1)
        + conv_flops(32, 1, 1)
        + conv_flops(16, 1, 2)
        + conv_flops(16, 2, 2)
        + conv_flops(8, 2, 4)
        + 2 * conv_flops(8, 4, 4)
        + conv_flops(4, 4, 8)
        + 2 * conv_flops(4, 8, 8)
        + 3 * conv_flops(2, 8, 8)
        + 2 * 8 * 8
        + 2 * 8 * 10
    )
    assert forward == 207_648
    assert training_flops_per_image(preset("cpu").replace(width=1 / 64)) == 3 * forward
    # The cpu preset: the 0.12 GFLOP per training image that its GFLOP/s count (BENCHMARKS.md).
    assert training_flops_per_image(preset("cpu")) == pytest.approx(0.1195e9, rel=1e-3)


def test_the_same_shape_times_it_before_a_newer_run_of_another_shape(tmp_path):
    config = preset("cpu").replace(epochs=1)
    timed_run(tmp_path, "same", config, age=100)
    timed_run(tmp_path, "wider", config.replace(width=0.5), seconds={**TIMED, PREPARING: 40.0})
    assert estimate(config, 3000, list_runs(tmp_path)).measured_by == "same"
    # Another network of a fair size times it when no run of its own shape has: its fixed preparing included.
    other = config.replace(batch_size=128)
    assert estimate(other, 3000, list_runs(tmp_path)).phases[PREPARING] == 40.0


def test_the_blogs_float32_is_timed_by_a_float32_run_before_a_newer_one_in_the_machines_precision(tmp_path):
    # On a CPU with bfloat16 the cpu preset trains 1.6x faster than in float32: its speed would halve the blog's time.
    timed_run(tmp_path, "float32", preset("cpu").replace(epochs=1, mixed_precision="off"), age=100)
    timed_run(tmp_path, "auto", preset("cpu").replace(epochs=1))
    assert estimate(preset("blog-short"), 3000, list_runs(tmp_path)).measured_by == "float32"
    assert estimate(preset("cpu").replace(width=0.5), 3000, list_runs(tmp_path)).measured_by == "auto"


def test_runs_that_cannot_time_the_phases_are_passed_over(tmp_path):
    config = preset("cpu").replace(epochs=1)
    timed_run(tmp_path, "resumed", config, resumed=True)  # Its preparing counts two sessions.
    timed_run(tmp_path, "toy", config.replace(width=1 / 64), age=10)  # Too small to keep the cores busy.
    run = timed_run(tmp_path, "running", config, age=20)
    run.update_status(state=State.RUNNING)  # Not finished: no process holds it, so it reads as interrupted.
    guess = estimate(preset("cpu").replace(batch_size=64), 3000, list_runs(tmp_path))
    assert (guess.measured_by, guess.gflops) == (None, DEFAULT_GFLOPS)


# Time left ------------------------------------------------------------------------------------------------------


def under_way(phase, seconds, **fields):
    """A running run's status, in `phase` since 10 s before time 1000, after the phases' `seconds`."""
    return RunStatus(state=State.RUNNING, phase=phase, phase_started=990.0, phase_seconds=seconds, **fields)


def metrics_at(epoch, epochs_validated):
    batch = BatchRow(
        step=10, epoch=epoch, loss=2.0, accuracy=0.1, learning_rate=0.1, images_per_second=50.0, elapsed=60.0
    )
    rows = [EpochRow(10, index + 1, 2.0, 0.1, 2.0, 0.1, 0.1, 50.0, 60.0) for index in range(epochs_validated)]
    return Metrics((batch,), tuple(rows))


def test_a_preparing_run_has_all_but_its_preparing_so_far_left(tmp_path):
    config = preset("cpu").replace(epochs=1, train_subset=3000)
    timed_run(tmp_path, "timed", config)
    guess = estimate(config, 3000, list_runs(tmp_path))
    status = under_way(PREPARING, {})
    assert seconds_left(config, status, Metrics(), guess, now=1000.0) == pytest.approx(guess.seconds - 10)


def test_a_scoring_run_holds_its_slot_for_the_rest_of_its_scoring(tmp_path):
    config = preset("cpu").replace(epochs=1, train_subset=3000)
    timed_run(tmp_path, "timed", config)
    guess = estimate(config, 3000, list_runs(tmp_path))
    spent = {PREPARING: 15.0, TRAINING: 60.0, VALIDATING: 20.0, SAVING: 2.0}
    # 1,000 of 5,000 images in its 10 s of scoring: 40 s to go at its own pace, though the guess said 7 s in all.
    status = under_way(SCORING, spent, phase_done=1000, phase_total=5000)
    assert seconds_left(config, status, metrics_at(1.0, 1), guess, now=1000.0) == pytest.approx(40.0)
