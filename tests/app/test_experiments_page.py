"""The Experiments page through AppTest: the teacher rewrites a page's task and a student cannot; in class a
student without a name is refused."""

import pytest

from helpers import assert_one_sentence, page_test, texts
from vgg.classroom.tasks import TaskError, save_try_this, try_this
from vgg.runs.folder import list_runs
from vgg.runs.metrics import EpochRow, row_line
from vgg.runs.status import State


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
    with pytest.raises(TaskError, match="must fit in 400 characters"):
        save_try_this("Data", "word " * 100, folder)

    monkeypatch.setenv("VGG_TEACHER_PASSWORD", "a class secret")
    student = page_test("experiments_page").run()
    assert not student.text_area


def test_a_broken_tasks_file_still_shows_the_editor_and_saving_repairs_it(experiments_environment):
    """A hand edit (or an old save) left the file invalid: every page says so, and the editor saves a fresh one."""
    folder = experiments_environment.parent / "experiments"
    (folder / "try-this.toml").write_text('[pages]\n"Data" = "look\x7fhere"\n')
    app = page_test("experiments_page").run()
    assert not app.exception
    [warning] = [warning.value for warning in app.sidebar.warning]
    assert "not valid TOML" in warning and "try-this.toml.broken" in warning
    app.text_area(key="try_this_text_Experiments").set_value("Predict first.")
    next(button for button in app.button if button.label == "Save the task").click().run()
    assert not app.exception and not app.sidebar.warning
    assert "**Try this:** Predict first." in [notice.value for notice in app.sidebar.info]
    assert try_this("Experiments", folder) == "Predict first."


def test_in_class_a_student_without_a_name_is_refused_in_one_sentence_and_sees_no_class_table(
    experiments_environment, monkeypatch
):
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
    # Once the name is typed, the stale refusal goes.
    app.text_input(key="me_typed").set_value("Ada").run()
    assert not app.exception and not app.error


def test_a_queued_experiment_shows_its_place_and_a_finished_one_its_curve_beside_the_result(
    experiments_environment, busy_slot, monkeypatch
):
    monkeypatch.delenv("VGG_TRAINING_SLOTS", raising=False)
    app = page_test("experiments_page").run()
    # The settings line is in words, not config names.
    assert "an eighth of the width, a learning rate of 0.05, no warm-up, batches of 32 images, 4 epochs" in texts(app)
    assert "jit" not in texts(app)
    app.radio(key="prediction_tiny").set_value("learns").run()
    app.button(key="start_experiment").click().run()
    assert not app.exception, app.exception
    [run] = list_runs(experiments_environment)
    assert run.status().state == State.QUEUED
    words = texts(app)
    assert "Your run is number 1 in the queue (no run ahead of it) and starts" in words
    assert "Preparing data and model" not in words and "Too early to tell" not in words

    run.request_stop()  # Out of the queue; then written as a run that ended after one epoch.
    run.update_status(state=State.FINISHED, error=None)
    run.metrics_path.write_text(row_line(EpochRow(10, 1, 2.0, 0.3, 1.9, 0.7, 0.05, 100.0, 5.0)))
    app.run()
    assert not app.exception, app.exception
    assert not [expander for expander in app.expander if expander.label == "The run"]
    assert app.get("plotly_chart"), "the loss curve is in view with the result, not folded away"
