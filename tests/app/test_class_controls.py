"""The teacher's controls without a browser: limits saved from the Train page and applied to students, reset for
the next class and restoring it, the run board's table, pins and chart; and the controls without a password."""

import json
import os

import pytest

from app_pages.charts import run_colours
from helpers import PASSWORD, page_test, tiny_config
from vgg.classroom import names
from vgg.classroom.launch import stop_active_runs
from vgg.classroom.policy import check_control, clean_name, delete_run, load_limits
from vgg.core import locks
from vgg.core.config import PRESETS
from vgg.core.errors import UserError
from vgg.runs.archive import archive_runs, archives, restore
from vgg.runs.disk import ARCHIVE_DIR
from vgg.runs.folder import create_run, list_runs, open_run
from vgg.runs.queue import enqueue, slot_path
from vgg.runs.status import State


def as_teacher(app):
    app.run()
    app.text_input(key="teacher_password").set_value(PASSWORD).run()
    assert not app.exception
    return app


@pytest.fixture
def classroom(class_environment):
    """A class-mode server's environment with Ada's and Ben's finished runs."""
    tmp_path = class_environment
    for name, owner, config, accuracy in (
        ("adas", "Ada", PRESETS["cpu"].replace(learning_rate=0.01, epochs=3), 0.61),
        ("bens", "Ben", PRESETS["cpu"].replace(batch_norm=False), 0.10),
    ):
        run = create_run(tmp_path, config, name=name, preset="cpu", title=f"{owner}'s try", owner=owner)
        run.update_status(state=State.FINISHED)
        run.metrics_path.write_text(
            '{"kind": "epoch", "step": 10, "epoch": 1, "loss": 1.0, "accuracy": 0.5, "learning_rate": 0.1, '
            f'"images_per_second": 100.0, "elapsed": 120.0, "val_loss": 1.2, "val_accuracy": {accuracy}}}\n'
        )
    return tmp_path


def test_the_teachers_limits_are_saved_and_hold_students(classroom):
    teacher = as_teacher(page_test("train_page"))
    form = {widget.label: widget for widget in teacher.number_input}
    form["Runs per student"].set_value(1)
    form["Longest estimated run (min)"].set_value(2.0)
    form["Students"].set_value(12)  # Each student's share of the disk is the budget over 12.
    teacher.button(key="FormSubmitter:class_limits-Save limits").click().run()
    assert not teacher.exception
    assert load_limits(classroom).max_estimated_minutes == 2.0 and load_limits(classroom).class_size == 12
    assert "Limits saved." in [element.value for element in teacher.success]

    student = page_test("train_page", me="Cy").run()
    student.button(key="start").click().run()
    refusal = " ".join(element.value for element in student.error)
    assert "the class's limit is 2 min" in refusal, refusal
    assert {run.name for run in list_runs(classroom)} == {"adas", "bens"}


def test_a_student_sees_no_teachers_controls(classroom):
    student = page_test("train_page", me="Cy").run()
    assert not student.exception
    # The run shown is named by its title, never its folder.
    assert any("**Ben's try** is **finished**" in markdown.value for markdown in student.markdown)
    assert not [expander for expander in student.expander if expander.label.startswith("Teacher's controls")]


def test_reset_for_the_next_class_archives_and_restore_brings_back(classroom):
    teacher = as_teacher(page_test("train_page"))
    teacher.checkbox(key="reset_sure").check().run()
    [reset] = [button for button in teacher.button if button.label == "Reset for the next class"]
    reset.click().run()
    assert not teacher.exception
    assert list_runs(classroom) == []
    assert len(list((classroom / ARCHIVE_DIR).glob("*/*/config.json"))) == 2
    [name] = archives(classroom)
    assert archives(classroom)[name] == 2
    assert f"Archived 2 run(s) as {name!r}; every name is free again." in [element.value for element in teacher.success]

    [button] = [button for button in teacher.button if button.label == "Restore"]
    button.click().run()
    assert not teacher.exception
    assert sorted(run.name for run in list_runs(classroom)) == ["adas", "bens"]
    assert archives(classroom) == {}


def test_restore_keeps_a_run_whose_name_was_taken_since(classroom):
    name, moved, kept = archive_runs(classroom)
    assert sorted(moved) == ["adas", "bens"] and kept == []
    create_run(classroom, tiny_config(), name="adas")
    with pytest.raises(Exception, match="adas stayed archived"):
        restore(classroom, name)
    assert open_run(classroom, "bens").exists() and archives(classroom)[name] == 1


def test_the_run_board_lists_changes_pins_and_plots(classroom):
    teacher = as_teacher(page_test("board_page"))
    table = teacher.dataframe[0].value
    assert sorted(table["name"]) == ["Ada's try", "Ben's try"]
    changed = dict(zip(table["name"], table["changed"], strict=True))
    assert changed["Ada's try"] == "a learning rate of 0.01, 3 epochs"
    assert changed["Ben's try"] == "no batch norm"
    best = dict(zip(table["name"], table["best validation accuracy"], strict=True))
    assert best == {"Ada's try": 0.61, "Ben's try": 0.10}
    [chart] = teacher.get("plotly_chart")
    # Each run's line has the run's own colour, as on the Train page's charts.
    [lines] = json.loads(chart.proto.spec)["data"]
    assert {colour for _, colour in lines["line"]["colorscale"]} == set(run_colours(["adas", "bens"]).values())
    # Axes in plain values: a learning rate of 0.01, not -2; batch norm off or on, not 0 to 1.
    axes = {dimension["label"]: dimension for dimension in lines["dimensions"]}
    assert "0.01" in axes["learning rate (log scale)"]["ticktext"] and "(log10)" not in " ".join(axes)
    assert axes["batch norm"]["ticktext"] == ["off", "on"]

    teacher.multiselect(key="board_pins").set_value(["bens"]).run()
    assert not teacher.exception
    assert open_run(classroom, "bens").status().pinned and not open_run(classroom, "adas").status().pinned
    assert list(teacher.dataframe[0].value["name"])[0] == "Ben's try"
    student = page_test("board_page", me="Cy").run()
    assert not student.exception and not student.multiselect
    assert list(student.dataframe[0].value["name"])[0] == "Ben's try"


def test_a_student_cannot_pin_a_run_past_the_page(classroom):
    from vgg.classroom.policy import ClassroomError, pin

    with pytest.raises(ClassroomError, match="^Only the teacher can pin runs for discussion.$"):
        pin(open_run(classroom, "adas"), True, teacher=False)
    assert not open_run(classroom, "adas").status().pinned
    pin(open_run(classroom, "adas"), True, teacher=True)
    assert open_run(classroom, "adas").status().pinned


def test_a_student_cannot_resume_past_the_time_limit_from_the_page(classroom):
    from vgg.runs.folder import CheckpointState

    secret = names.claim(classroom, "Ada")
    run = create_run(classroom, tiny_config(), name="adas-long", title="Ada's long one", owner="Ada")
    run.update_status(state=State.STOPPED, owner_key=names.secret_hash(secret))
    run.save_checkpoint_state(CheckpointState(3, 30, 21 * 60.0))  # Past the default 20 minutes.
    ada = page_test("train_page", me=names.address_text("Ada", secret)).run()
    next(box for box in ada.selectbox if box.label == "Show run").set_value("adas-long").run()
    ada.button(key="resume_adas-long").click().run()
    assert not ada.exception
    refusal = " ".join(element.value for element in ada.error)
    assert "the class's limit of 20 min; only the teacher can resume it" in refusal, refusal
    assert run.status().state == State.STOPPED


def test_the_teacher_is_offered_no_queued_run_to_delete(classroom):
    slot = locks.acquire(slot_path(classroom, 0))  # Held, as by a run that trains: Ben's run stays queued.
    try:
        enqueue(open_run(classroom, "bens"))
        teacher = as_teacher(page_test("train_page"))
        choices = next(box for box in teacher.selectbox if box.label == "Run to delete").options
        assert len(choices) == 1 and "Ben" not in choices[0], choices
    finally:
        os.close(slot)
        stop_active_runs(classroom)


def test_without_a_password_every_control_is_open(tmp_path, monkeypatch):
    monkeypatch.delenv("VGG_TEACHER_PASSWORD", raising=False)
    run = create_run(tmp_path, tiny_config(), name="someones", owner="Ada")
    check_control(run, run.status(), None, teacher=False)
    delete_run(run, teacher=False)
    assert not run.path.exists()


def test_names_are_trimmed_and_bounded():
    assert clean_name("  Ada   Lovelace ") == "Ada Lovelace"
    assert clean_name("   ") is None
    with pytest.raises(UserError, match="at most 40 printable characters"):
        clean_name("x" * 41)
    with pytest.raises(UserError, match="printable"):
        clean_name("Ada\x00")


def test_the_delete_confirmation_belongs_to_the_run_it_named(classroom):
    """Ticking "Yes, delete run A" and then choosing run B leaves Delete off until B's own box is ticked."""
    teacher = as_teacher(page_test("train_page"))

    def confirmation():
        [box] = [box for box in teacher.checkbox if box.label.startswith("Yes, delete run")]
        return box

    teacher.selectbox(key="delete_choice").set_value("adas").run()
    confirmation().check().run()
    assert "Ada's try" in confirmation().label and not teacher.button(key="delete_run").disabled
    teacher.selectbox(key="delete_choice").set_value("bens").run()
    assert "Ben's try" in confirmation().label and not confirmation().value
    assert teacher.button(key="delete_run").disabled
    assert {run.name for run in list_runs(classroom)} == {"adas", "bens"}
