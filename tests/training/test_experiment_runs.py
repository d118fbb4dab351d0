"""Experiments with real runs: the checks read a real run, the shipped experiments show their effects on the
real images, and the page starts a run only after a prediction and shows it beside what happened."""

import pytest

from helpers import SHARED_CIFAR10, TINY_EXPERIMENT, experiment_file, page_test, texts, train_quietly
from vgg.classroom.doctor import Verdict, diagnose
from vgg.classroom.experiments import (
    load_experiment,
    outcome,
)
from vgg.classroom.launch import ENDED_STATES, wait_for
from vgg.core.config import PRESETS
from vgg.runs.folder import create_run, list_runs


def test_the_no_batch_norm_check_says_stuck_for_the_blogs_recipe_and_not_for_a_run_that_learns(
    image_folder, tmp_path, tiny_run
):
    experiment = load_experiment("experiments/no-batch-norm.toml")
    # The experiment's own recipe (the blog's, a quarter wide) on the generated images.
    config = PRESETS["blog"].replace(width=0.25, epochs=1, validation_size=100, log_every_seconds=0.0)
    assert experiment.config().replace(train_subset=0, epochs=1, validation_size=100, log_every_seconds=0.0) == config
    stuck = create_run(tmp_path / "runs", config, name="blog", data_dir=str(image_folder))
    assert train_quietly(stuck, image_folder).state == "finished"
    result = outcome(experiment, stuck)
    assert result.effect and result.right == {"learns": False, "stuck": True, "diverges": False}
    assert "stuck at chance" in result.measured and "ln 10" in result.explanation
    assert diagnose(tiny_run).verdict == Verdict.HEALTHY
    learned = outcome(experiment, tiny_run)
    assert not learned.effect and learned.right == {"learns": True, "stuck": False, "diverges": False}
    assert learned.explanation == experiment.explain_no_effect


def test_accuracy_checks_read_the_last_epoch_of_a_real_run(tmp_path, tiny_run):
    experiment = load_experiment(experiment_file(tmp_path, "tiny", TINY_EXPERIMENT))
    last = tiny_run.metrics().validated_epochs[-1]
    assert last.val_accuracy > 0.5
    assert outcome(experiment, tiny_run).right == {"learns": True, "chance": False}
    below_text = TINY_EXPERIMENT.replace("accuracy_above", "accuracy_below")
    below = load_experiment(experiment_file(tmp_path, "below", below_text))
    result = outcome(below, tiny_run)
    assert not result.effect and f"validation accuracy {last.val_accuracy:.0%}" in result.measured


SHIPPED_EFFECTS = {
    "no-batch-norm": "stuck",
    "learning-rate-x50": "diverges",
    "no-augmentation": "gap",
    "tiny-training-set": "low",
}


@pytest.mark.skipif(not SHARED_CIFAR10.exists(), reason="../shared/cifar10 is not beside the project")
@pytest.mark.parametrize("experiment_id", SHIPPED_EFFECTS)
def test_each_shipped_experiment_shows_its_effect_on_the_real_images(tmp_path, experiment_id):
    """Its minutes are the benchmark's (benchmarks/experiment_times.py): a busy machine must not fail the effect."""
    experiment = load_experiment(f"experiments/{experiment_id}.toml")
    run = create_run(tmp_path / "runs", experiment.config(), preset=experiment.preset, data_dir=str(SHARED_CIFAR10))
    status = train_quietly(run, SHARED_CIFAR10)
    assert status.state == "finished", status.traceback
    result = outcome(experiment, run)
    print(experiment_id, result.measured)
    # The answer the experiment teaches is the one that comes true, and only it.
    assert result.effect and [key for key, right in result.right.items() if right] == [SHIPPED_EFFECTS[experiment_id]]


def test_the_page_starts_only_after_a_prediction_and_shows_it_beside_what_happened(experiments_environment):
    runs_dir = experiments_environment
    app = page_test("experiments_page").run()
    assert not app.exception, app.exception
    assert "Predict first, then start." in texts(app)
    assert "Will a tiny VGG16 learn" in texts(app) and "an eighth of the width" in texts(app)
    assert app.button(key="start_experiment").disabled, "no prediction yet"
    assert list_runs(runs_dir) == []
    app.radio(key="prediction_tiny").set_value("chance").run()
    assert not app.button(key="start_experiment").disabled
    app.button(key="start_experiment").click().run()
    assert not app.exception, app.exception
    [run] = list_runs(runs_dir)
    status = run.status()
    assert (status.experiment, status.prediction, status.title) == ("tiny", "chance", "Tiny learner")
    assert run.config() == load_experiment(experiment_file(runs_dir.parent / "x", "tiny", TINY_EXPERIMENT)).config()
    assert app.button(key="start_experiment").disabled, "its run is training"
    assert wait_for(run, ENDED_STATES, 240).state == "finished"
    app.run()
    assert not app.exception, app.exception
    assert "You predicted" in texts(app) and "What happened" in texts(app)
    assert "No, it stays near chance. Not this time." in texts(app)
    assert "The generated classes are easy patterns" in texts(app)
    table = app.dataframe[-1].value  # The class's table comes last.
    assert list(table["predicted"]) == ["No, it stays near chance."] and list(table["right"]) == [False]
    assert list(table["what happened"]) == ["Yes, above 50% on validation images."]
    tally = app.dataframe[-2].value
    assert list(tally["students"]) == [1] and list(tally["right, of the runs that ended"]) == ["0 of 1"]
