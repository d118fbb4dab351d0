"""Guided experiments: the shipped files parse, a broken one is refused in one sentence naming it, each check
reads the truth from real runs' records, and the Experiments page asks for a prediction before it starts a run
with the experiment's settings, then shows what happened beside the prediction (AppTest and Chromium)."""

import re

import pytest

from conftest import SHARED_CIFAR10, app_server, assert_one_sentence, page_test, tiny_config, train_run_quietly
from vgg.classroom.doctor import Verdict, diagnose
from vgg.classroom.experiments import (
    ExperimentError,
    load_experiment,
    load_experiments,
    outcome,
    save_try_this,
    try_this,
)
from vgg.classroom.launch import ENDED_STATES, stop_active_runs, wait_for
from vgg.core.config import PRESETS
from vgg.core.files import write_text
from vgg.runs.folder import create_run, list_runs
from vgg.runs.metrics import EpochRow, row_line

# A whole experiment on the generated images in about ten seconds: the cpu preset at 1/8 width, two epochs.
TINY_EXPERIMENT = """
title = "Tiny learner"
question = "Will a tiny VGG16 learn the generated classes in four epochs?"
preset = "cpu"
[settings]
width = 0.125
epochs = 4
batch_size = 32
learning_rate = 0.05
warmup_epochs = 0.0
augment = false
validation_size = 100
jit_compile = "off"
log_every_seconds = 0.0
[[choices]]
id = "learns"
text = "Yes, above 50% on validation images."
effect = true
[[choices]]
id = "chance"
text = "No, it stays near chance."
effect = false
[check]
rule = "accuracy_above"
value = 0.5
[explain]
effect = "The generated classes are easy patterns: batch norm lets even a tiny VGG16 learn them at once."
no_effect = "It did not learn in four epochs."
"""


def experiment_file(folder, name, text):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(text)
    return path


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
    "unknown verdict": (TINY_EXPERIMENT.replace('rule = "accuracy_above"\nvalue = 0.5',
                                                'rule = "doctor_verdict"\nvalue = "sad"'), "doctor's verdict"),
    "one choice": (TINY_EXPERIMENT.split("[[choices]]\nid = \"chance\"")[0] + "[check]" +
                   TINY_EXPERIMENT.split("[check]")[1], "two or more"),
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


@pytest.fixture(scope="module")
def learning_run(image_folder, tmp_path_factory):
    """A tiny batch-norm run that learns the generated classes: the doctor calls it healthy."""
    run = create_run(tmp_path_factory.mktemp("runs"), tiny_config(epochs=3), name="learns", data_dir=str(image_folder))
    assert train_run_quietly(run, image_folder).state == "finished"
    return run


def test_the_no_batch_norm_check_says_stuck_for_the_blogs_recipe_and_not_for_a_run_that_learns(
        image_folder, tmp_path, learning_run):
    experiment = load_experiment("experiments/no-batch-norm.toml")
    # The experiment's own recipe (the blog's, a quarter wide) on the generated images.
    config = PRESETS["blog"].replace(width=0.25, epochs=1, validation_size=100, log_every_seconds=0.0)
    assert experiment.config().replace(train_subset=0, epochs=1, validation_size=100, log_every_seconds=0.0) == config
    stuck = create_run(tmp_path / "runs", config, name="blog", data_dir=str(image_folder))
    assert train_run_quietly(stuck, image_folder).state == "finished"
    result = outcome(experiment, stuck)
    assert result.effect and result.right == {"learns": False, "stuck": True, "diverges": False}
    assert "stuck at chance" in result.measured and "ln 10" in result.explanation
    assert diagnose(learning_run).verdict == Verdict.HEALTHY
    learned = outcome(experiment, learning_run)
    assert not learned.effect and learned.right == {"learns": True, "stuck": False, "diverges": False}
    assert learned.explanation == experiment.explain_no_effect


def test_accuracy_checks_read_the_last_epoch_of_a_real_run(tmp_path, learning_run):
    experiment = load_experiment(experiment_file(tmp_path, "tiny", TINY_EXPERIMENT))
    last = learning_run.metrics().validated_epochs[-1]
    assert last.val_accuracy > 0.5
    assert outcome(experiment, learning_run).right == {"learns": True, "chance": False}
    below_text = TINY_EXPERIMENT.replace("accuracy_above", "accuracy_below")
    below = load_experiment(experiment_file(tmp_path, "below", below_text))
    result = outcome(below, learning_run)
    assert not result.effect and f"validation accuracy {last.val_accuracy:.0%}" in result.measured


def epoch(number, accuracy, val_accuracy):
    return EpochRow(step=10 * number, epoch=number, loss=1.0, accuracy=accuracy, val_loss=1.5,
                    val_accuracy=val_accuracy, learning_rate=0.1, images_per_second=100.0, elapsed=5.0 * number)


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


SHIPPED_EFFECTS = {"no-batch-norm": "stuck", "learning-rate-x50": "diverges", "no-augmentation": "gap",
                   "tiny-training-set": "low"}


@pytest.mark.slow
@pytest.mark.skipif(not SHARED_CIFAR10.exists(), reason="../shared/cifar10 is not beside the project")
@pytest.mark.parametrize("experiment_id", SHIPPED_EFFECTS)
def test_each_shipped_experiment_shows_its_effect_on_the_real_images(tmp_path, experiment_id):
    """Its minutes are the benchmark's (benchmarks/experiment_times.py): a busy machine must not fail the effect."""
    experiment = load_experiment(f"experiments/{experiment_id}.toml")
    run = create_run(tmp_path / "runs", experiment.config(), preset=experiment.preset, data_dir=str(SHARED_CIFAR10))
    status = train_run_quietly(run, SHARED_CIFAR10)
    assert status.state == "finished", status.traceback
    result = outcome(experiment, run)
    print(experiment_id, result.measured)
    # The answer the experiment teaches is the one that comes true, and only it.
    assert result.effect and [key for key, right in result.right.items() if right] == [SHIPPED_EFFECTS[experiment_id]]


@pytest.fixture
def experiments_environment(app_environment, tmp_path, monkeypatch):
    """The page over an empty runs folder and one tiny experiment."""
    folder = tmp_path / "experiments"
    experiment_file(folder, "tiny", TINY_EXPERIMENT)
    (folder / "try-this.toml").write_text('[pages]\n"Experiments" = "Predict first, then start."\n')
    monkeypatch.setenv("VGG_EXPERIMENTS_DIR", str(folder))
    monkeypatch.setenv("VGG_RUNS_DIR", str(tmp_path / "runs"))
    yield tmp_path / "runs"
    stop_active_runs(tmp_path / "runs")


def texts(app):
    return " ".join(element.value for kind in ("markdown", "caption", "info", "warning", "error", "success")
                    for element in getattr(app, kind))


@pytest.mark.slow
def test_the_page_starts_only_after_a_prediction_and_shows_it_beside_what_happened(experiments_environment):
    runs_dir = experiments_environment
    app = page_test("experiments_page").run()
    assert not app.exception, app.exception
    assert "Predict first, then start." in texts(app)
    assert "Will a tiny VGG16 learn" in texts(app) and "width = 0.125" in texts(app)
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


@pytest.mark.browser
@pytest.mark.slow
def test_the_teacher_rewrites_a_pages_task_on_the_page_and_a_student_cannot(experiments_environment, monkeypatch):
    """Outside class mode whoever runs the app prepares the lesson; in class mode only the unlocked teacher edits."""
    folder = experiments_environment.parent / "experiments"
    app = page_test("experiments_page").run()
    app.text_area(key="try_this_text_Experiments").set_value("Before you start:\nwrite your guess down.")
    next(button for button in app.button if button.label == "Save the task").click().run()
    assert "**Try this:** Before you start: write your guess down." in [notice.value for notice in app.sidebar.info]
    assert try_this("Experiments", folder) == "Before you start: write your guess down."
    app.text_area(key="try_this_text_Experiments").set_value("")
    next(button for button in app.button if button.label == "Save the task").click().run()
    assert not [notice for notice in app.sidebar.info if notice.value.startswith("**Try this:**")]
    with pytest.raises(ExperimentError, match="must fit in 400 characters"):
        save_try_this("Data", "word " * 100, folder)

    monkeypatch.setenv("VGG_TEACHER_PASSWORD", "a class secret")
    student = page_test("experiments_page").run()
    assert not student.text_area


def test_a_student_runs_an_experiment_end_to_end_in_chromium(browser, tmp_path, image_folder, monkeypatch):
    from playwright.sync_api import expect

    from browser_helpers import screenshot

    folder = tmp_path / "experiments"
    experiment_file(folder, "tiny", TINY_EXPERIMENT)
    monkeypatch.setenv("VGG_EXPERIMENTS_DIR", str(folder))
    with app_server(tmp_path, image_folder) as server:
        page = browser.new_context(viewport={"width": 1024, "height": 768}).new_page()
        page.goto(f"{server.url}/experiments")
        expect(page.get_by_text("Will a tiny VGG16 learn")).to_be_visible(timeout=90_000)
        start = page.get_by_role("button", name="Start the experiment")
        expect(start).to_be_disabled()
        page.get_by_text("Yes, above 50% on validation images.").click()
        expect(start).to_be_enabled()
        start.click()
        expect(page.get_by_text("You predicted")).to_be_visible(timeout=240_000)
        expect(page.get_by_text(re.compile(r"Yes, above 50% on validation images\. Right!"))).to_be_visible()
        expect(page.get_by_text(re.compile(r"validation accuracy \d+%"))).to_be_visible()
        screenshot(page, "experiments")
        [run] = list_runs(server.runs_dir)
        assert run.status().prediction == "learns"


def test_in_class_a_student_without_a_name_is_refused_in_one_sentence_and_sees_no_class_table(
        experiments_environment, monkeypatch):
    from vgg.classroom.policy import PASSWORD_VARIABLE

    monkeypatch.setenv(PASSWORD_VARIABLE, "sesame")
    app = page_test("experiments_page").run()
    app.radio(key="prediction_tiny").set_value("learns").run()
    app.button(key="start_experiment").click().run()
    assert not app.exception, app.exception
    assert list_runs(experiments_environment) == []
    [refusal] = [error.value for error in app.error]
    assert_one_sentence(refusal)
    assert refusal.startswith("Type your name in the sidebar first")
    assert "How the class predicted" not in " ".join(header.value for header in app.subheader)
