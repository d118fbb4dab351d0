"""The Train page's "about N min on this machine": the machine's speed comes from earlier runs' records."""

from vgg.core.config import preset
from vgg.core.estimate import DEFAULT_GFLOPS, estimate, machine_gflops, training_flops_per_image
from vgg.runs.folder import create_run, list_runs
from vgg.runs.metrics import EpochRow, row_line


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
    assert round(estimate(config, 45_000, list_runs(tmp_path)).seconds) == round(5 * (45_000 + 5_000 / 3) / 1050)


def test_a_run_stopped_in_its_first_epoch_measures_nothing(tmp_path):
    # A first epoch of a few hundred images is mostly start-up and tracing: 21 images/s would promise hours.
    run_with_epochs(tmp_path, "stopped-early", [21.0])
    assert machine_gflops(preset("cpu"), list_runs(tmp_path)) == (DEFAULT_GFLOPS, None)
