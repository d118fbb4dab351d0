"""Guided experiments: the shipped files parse, a broken one is refused in one sentence naming it, each check
reads the truth from real runs' records, and the Experiments page asks for a prediction before it starts a run
with the experiment's settings, then shows what happened beside the prediction (AppTest and Chromium)."""

import pytest

from helpers import TINY_EXPERIMENT, assert_one_sentence, experiment_file
from vgg.classroom.experiments import (
    ExperimentError,
    load_experiment,
    load_experiments,
    outcome,
)
from vgg.classroom.tasks import try_this
from vgg.core.files import write_text
from vgg.runs.folder import create_run
from vgg.runs.metrics import EpochRow, row_line


def test_the_shipped_experiments_parse_into_small_cpu_runs_and_each_page_has_a_task():
    experiments, errors = load_experiments()
    assert errors == []
    assert {"no-batch-norm", "learning-rate-x50", "no-augmentation", "tiny-training-set"} <= {e.id for e in experiments}
    for experiment in experiments:
        config = experiment.config()
        # A 2-core CPU trains each in minutes: a subset of the images and few epochs.
        assert 0 < config.train_subset <= 2000 and config.epochs <= 20 and config.width <= 0.25, experiment.id
        assert len(experiment.choices) >= 2 and any(choice.effect for choice in experiment.choices)
    assert experiments[0].id == "no-batch-norm" and experiments[0].config().batch_norm is False
    assert "Grad-CAM" in try_this("Predict") and try_this("No such page") is None
    # The tasks are keyed by the pages' titles.
    from app_pages.pages import PAGES

    assert all(try_this(page.title) for page in PAGES)


BROKEN = {
    "not TOML": ("title = 'x\n", "not valid TOML"),
    "unknown setting": (TINY_EXPERIMENT.replace("width = 0.125", "wdth = 0.125"), "wdth"),
    "impossible setting": (TINY_EXPERIMENT.replace("width = 0.125", "width = 5.0"), "width must be between"),
    "unknown rule": (TINY_EXPERIMENT.replace('"accuracy_above"', '"vibes"'), "rule must be one of"),
    "unknown verdict": (
        TINY_EXPERIMENT.replace('rule = "accuracy_above"\nvalue = 0.5', 'rule = "doctor_verdict"\nvalue = "sad"'),
        "doctor's verdict",
    ),
    "one choice": (
        TINY_EXPERIMENT.split('[[choices]]\nid = "chance"')[0] + "[check]" + TINY_EXPERIMENT.split("[check]")[1],
        "two or more",
    ),
    "a choice without effect or check": (TINY_EXPERIMENT.replace("effect = false\n", ""), "choice 'chance' needs"),
    "no question": (TINY_EXPERIMENT.replace("question =", "prompt ="), "lacks 'question'"),
    "unknown preset": (TINY_EXPERIMENT.replace('preset = "cpu"', 'preset = "tpu"'), "Unknown preset 'tpu'"),
}


@pytest.mark.parametrize("case", BROKEN)
def test_a_broken_file_is_refused_in_one_sentence_naming_it_and_hides_only_itself(tmp_path, case):
    text, expected = BROKEN[case]
    folder = tmp_path / "experiments"
    experiment_file(folder, "good", TINY_EXPERIMENT)
    broken = experiment_file(folder, "broken", text)
    with pytest.raises(ExperimentError) as raised:
        load_experiment(broken)
    message = str(raised.value)
    assert_one_sentence(message)
    assert message.startswith("Experiment file 'broken.toml'") and expected in message, message
    experiments, errors = load_experiments(folder)
    assert [experiment.id for experiment in experiments] == ["good"] and errors == [message]


def epoch(number, accuracy, val_accuracy):
    return EpochRow(
        step=10 * number,
        epoch=number,
        loss=1.0,
        accuracy=accuracy,
        val_loss=1.5,
        val_accuracy=val_accuracy,
        learning_rate=0.1,
        images_per_second=100.0,
        elapsed=5.0 * number,
    )


def test_the_overfitting_check_holds_only_when_training_accuracy_pulls_20_points_ahead(tmp_path):
    experiment = load_experiment("experiments/no-augmentation.toml")
    runs = {}
    lasts = {"memorizes": epoch(12, 0.95, 0.40), "generalizes": epoch(12, 0.62, 0.55), "guesses": epoch(12, 0.12, 0.1)}
    for name, last in lasts.items():
        run = runs[name] = create_run(tmp_path / "runs", experiment.config(), name=name)
        write_text(run.metrics_path, row_line(epoch(1, 0.2, 0.2)) + row_line(last))
    memorized = outcome(experiment, runs["memorizes"])
    assert memorized.effect and memorized.right["gap"] and not memorized.right["close"]
    assert "a gap of 55 points" in memorized.measured
    assert outcome(experiment, runs["generalizes"]).right == {"close": True, "gap": False, "both-low": False}
    # A choice with a check of its own comes true by it: both accuracies at chance.
    assert outcome(experiment, runs["guesses"]).right == {"close": True, "gap": False, "both-low": True}
    empty = create_run(tmp_path / "runs", experiment.config(), name="empty")
    with pytest.raises(ExperimentError, match="before a validated epoch"):
        outcome(experiment, empty)
