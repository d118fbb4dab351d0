"""Class mode with a run training: runs carry their starter's name and title; a student controls only their own
runs; the teacher, once unlocked with the server's password, stops any."""

import os
import pathlib

import pytest

from helpers import PASSWORD, page_test, tiny_config
from vgg.classroom import names
from vgg.classroom.launch import launch, stop_active_runs, wait_for
from vgg.classroom.policy import ClassroomError, check_control
from vgg.runs.folder import create_run, open_run
from vgg.runs.status import State


@pytest.fixture
def classroom(class_environment, image_folder):
    """A class-mode server's environment with Ada's run training and Ben's finished; Ada's browser's address."""
    tmp_path = class_environment
    secret = names.claim(tmp_path, "Ada")
    finished = create_run(tmp_path, tiny_config(epochs=1), name="bens", title="Ben's first", owner="Ben")
    finished.update_status(state=State.FINISHED)
    run, process = launch(
        tmp_path,
        "adas",
        config=tiny_config(epochs=300, batch_size=8),
        data_dir=image_folder,
        title="Ada, lr 0.05",
        owner=names.Student("Ada", names.secret_hash(secret)),
    )
    assert wait_for(run, (State.RUNNING,), 120).state == State.RUNNING
    yield tmp_path, names.address_text("Ada", secret)
    stop_active_runs(tmp_path)
    process.wait(timeout=60)


def test_a_student_cannot_stop_anothers_run_and_the_teacher_can(classroom):
    classroom, adas_address = classroom
    ben = page_test("train_page", me="Ben").run()
    assert not ben.exception
    assert "**Ada, lr 0.05** is **running**" in " ".join(markdown.value for markdown in ben.markdown)
    assert "started by Ada" in " ".join(markdown.value for markdown in ben.markdown)
    assert not [button for button in ben.button if button.key == "stop_adas"], "Ben sees a Stop button on Ada's run"
    # Forced past the page (a crafted request), the same check refuses it in one sentence.
    run = open_run(classroom, "adas")
    with pytest.raises(ClassroomError, match="belongs to Ada; only they or the teacher"):
        check_control(run, run.status(), names.Student("Ben"), teacher=False)
    assert run.status().state == State.RUNNING
    assert not [expander for expander in ben.expander if expander.label == "Delete a run"]

    # Ben types Ada's name: refused, and still no Stop; Ada's own browser (her name's secret) has it.
    ben.text_input(key="me_typed").set_value("Ada").run()
    assert "The name 'Ada' is in use" in " ".join(element.value for element in ben.error)
    assert not [button for button in ben.button if button.key == "stop_adas"], "Ben took Ada's name"
    ada = page_test("train_page", me=adas_address).run()
    assert [button for button in ada.button if button.key == "stop_adas"], "Ada cannot stop her own run"

    teacher = page_test("train_page").run()
    teacher.text_input(key="teacher_password").set_value("wrong").run()
    assert not [button for button in teacher.button if button.key == "stop_adas"]
    teacher.text_input(key="teacher_password").set_value(PASSWORD).run()
    assert not teacher.exception
    assert [button for button in teacher.button if button.key == "stop_adas"]
    # The teacher deletes Ben's finished run, after confirming.
    teacher.selectbox(key="delete_choice").set_value("bens").run()
    assert teacher.button(key="delete_run").disabled
    teacher.checkbox(key="delete_sure_bens").check().run()
    teacher.button(key="delete_run").click().run()
    assert not teacher.exception and not (classroom / "bens").exists()


def test_runs_are_listed_by_title_and_starter(classroom):
    classroom, _ = classroom
    app = page_test("train_page").run()
    assert not app.exception
    table = app.dataframe[0].value
    assert sorted(table["run"]) == ["Ada, lr 0.05 · Ada", "Ben's first · Ben"]
    assert sorted(table["started by"]) == ["Ada", "Ben"]
    assert app.selectbox(key="show_run_adas").format_func("adas") == "Ada, lr 0.05 · Ada"


def test_the_trainer_never_gets_the_teachers_password(classroom):
    classroom, _ = classroom
    pid = open_run(classroom, "adas").status().pid
    environment = pathlib.Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    assert any(line.startswith(b"VGG_RUN_LOCK_FD=") for line in environment), "not the trainer's environment"
    assert os.environ["VGG_TEACHER_PASSWORD"] == PASSWORD
    # Another process of the same user could read it in /proc, and training never needs it.
    assert not [line for line in environment if line.startswith(b"VGG_TEACHER_PASSWORD=")]
