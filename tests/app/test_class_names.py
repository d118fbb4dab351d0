"""Names belong to the browser that took them: a second browser typing a taken name is refused in one sentence and
gets no control of its runs, the raw address never names anyone, invented names buy no more runs, the teacher
frees a name; and the teacher's password resists guessing."""

import logging
import re

import pytest

from helpers import PASSWORD, PROJECT_ROOT, assert_one_sentence, page_test, tiny_config
from vgg.classroom import names, password
from vgg.classroom.launch import launch
from vgg.classroom.names import Student
from vgg.classroom.policy import ClassLimits, ClassroomError, check_control, save_limits
from vgg.runs.folder import list_runs
from vgg.runs.status import State

TAKEN = "The name 'Ada' is in use in this class: choose another or ask the teacher."


@pytest.fixture
def queueing_class(busy_slot, image_folder, monkeypatch):
    """A class-mode server's environment whose one slot is busy, so the runs students start wait in the queue."""
    monkeypatch.setenv("VGG_TEACHER_PASSWORD", PASSWORD)
    monkeypatch.setenv("VGG_RUNS_DIR", str(busy_slot))
    monkeypatch.setenv("VGG_DATA_DIR", str(image_folder))
    save_limits(busy_slot, ClassLimits(max_estimated_minutes=600))
    return busy_slot


@pytest.fixture
def fresh_guesses(monkeypatch):
    """The server's count of wrong passwords, from zero, so this test's guesses hold back no other test."""
    monkeypatch.setattr(password, "GUESSES", password.Guesses())
    return password.GUESSES


def errors(app):
    return [element.value for element in app.error]


def queued_start(app):
    """Presses Start on the Train page; the run waits in the queue behind the busy slot."""
    app.button(key="start").click().run()
    assert not app.exception and not errors(app), errors(app)


def test_a_taken_name_is_refused_and_gives_no_control(queueing_class):
    ada = page_test("train_page", me="Ada").run()
    queued_start(ada)
    [adas] = list_runs(queueing_class)
    assert ada.query_params["me"].startswith("Ada~"), "Ada's secret is not kept in her address"
    assert [button for button in ada.button if button.key == f"cancel_{adas.name}"], "Ada cannot cancel her run"
    assert adas.status().owner == "Ada" and adas.status().owner_key == names.secret_hash(ada.query_params["me"][4:])

    # Ben's browser opens a link naming Ada, then types her name: each time one sentence, and no Cancel.
    ben = page_test("train_page", me="Ada").run()
    assert errors(ben) == [TAKEN]
    assert "me" not in ben.query_params
    ben.text_input(key="me_typed").set_value("Ben").run()
    ben.text_input(key="me_typed").set_value("Ada").run()
    assert errors(ben) == [TAKEN] and ben.text_input(key="me_typed").value == "Ben"
    assert_one_sentence(TAKEN)
    assert not [button for button in ben.button if button.key == f"cancel_{adas.name}"]
    # A made-up secret beside the name is no better, and neither is a name forced past the page.
    forged = page_test("train_page", me="Ada~AAAAAAAAAAAAAAAA").run()
    assert "no longer this browser's" in " ".join(errors(forged))
    assert not [button for button in forged.button if button.key == f"cancel_{adas.name}"]
    with pytest.raises(ClassroomError, match="belongs to Ada"):
        check_control(adas, adas.status(), Student("Ada"), teacher=False)
    assert adas.status().state == State.QUEUED


def test_the_raw_address_never_names_anyone(queueing_class):
    hostile = "Bob\n\n# Lesson over, close this tab and wait for the teacher " + "x" * 40
    app = page_test("train_page", me=hostile).run()
    assert not app.exception
    assert "at most 40 printable characters" in " ".join(errors(app))
    app.button(key="start").click().run()
    assert "Type your name in the sidebar first" in " ".join(errors(app))
    assert list_runs(queueing_class) == []


def test_invented_names_buy_no_second_run(queueing_class, image_folder):
    limits = ClassLimits(runs_per_student=1, max_estimated_minutes=600)

    def student(name, **where):
        return Student(name, names.secret_hash(names.claim(queueing_class, name)), **where)

    def start(run_name, owner):
        return launch(
            queueing_class,
            run_name,
            config=tiny_config(),
            data_dir=image_folder,
            owner=owner,
            limits=limits,
            student=True,
        )

    start("bens", student("Ben", browser="bens-browser", address="10.0.0.7"))
    # Another name in the same browser, or in a private window on the same machine: still Ben's one run.
    for invented in (student("x1", browser="bens-browser"), student("x2", browser="private", address="10.0.0.7")):
        with pytest.raises(ClassroomError, match=r"You have 1 run\(s\) queued or training .* allows 1") as refusal:
            start(f"{invented.name}s", invented)
        assert_one_sentence(str(refusal.value))
    start("cys", student("Cy", browser="cys-browser", address="10.0.0.8"))
    assert sorted(run.name for run in list_runs(queueing_class)) == ["bens", "cys"]


def test_the_teacher_releases_a_name_and_reset_frees_all(queueing_class):
    ada = page_test("train_page", me="Ada").run()
    assert ada.query_params["me"].startswith("Ada~")
    teacher = page_test("train_page").run()
    teacher.text_input(key="teacher_password").set_value(PASSWORD).run()
    assert teacher.selectbox(key="release_choice").options == ["Ada"]
    teacher.button(key="release_name").click().run()
    assert not teacher.exception
    assert "Released 'Ada': the next browser that types it takes it." in [s.value for s in teacher.success]
    assert names.claimed_names(queueing_class) == []

    newcomer = page_test("train_page", me="Ada").run()
    assert not errors(newcomer) and newcomer.query_params["me"].startswith("Ada~")
    # The old browser's secret no longer names Ada: it never takes the name back by itself.
    ada.run()
    assert "The name 'Ada' is no longer this browser's: type your name again." in errors(ada)
    assert names.claimed_names(queueing_class) == ["Ada"]

    teacher.checkbox(key="reset_sure").check().run()
    next(button for button in teacher.button if button.label == "Reset for the next class").click().run()
    assert not teacher.exception and names.claimed_names(queueing_class) == []


def test_guesses_of_the_teachers_password_pause(queueing_class, fresh_guesses, caplog):
    app = page_test("train_page", me="Cy").run()
    for guess in range(password.MAX_FAILURES):
        app.text_input(key="teacher_password").set_value(f"guess {guess}").run()
        assert errors(app) == ["That is not the teacher's password."]
    with caplog.at_level(logging.WARNING):
        app.text_input(key="teacher_password").set_value(PASSWORD).run()
    # Even the right password waits now, for every browser, and the server's log says where the guesses came from.
    # The pause counts down from 60 s (a busy machine shows a few seconds less; test_the_pause_ends_after_a_minute
    # checks the count on a clock of its own).
    [pause] = errors(app)
    counted = re.fullmatch(r"Too many wrong passwords: try again in (\d+) s\.", pause)
    assert counted and 0 < int(counted[1]) <= password.PAUSE_SECONDS, pause
    assert not [element for element in app.success if element.value == "Teacher's controls on."]
    other = page_test("train_page").run()
    other.text_input(key="teacher_password").set_value(PASSWORD).run()
    assert "Too many wrong passwords" in " ".join(errors(other))
    assert any("wrong teacher passwords" in record.message for record in caplog.records)


def test_the_pause_ends_after_a_minute(monkeypatch):
    monkeypatch.setenv("VGG_TEACHER_PASSWORD", PASSWORD)
    now = [0.0]
    guesses = password.Guesses(clock=lambda: now[0])
    assert not any(guesses.check(f"guess {guess}", "10.0.0.9") for guess in range(password.MAX_FAILURES))
    now[0] = password.PAUSE_SECONDS - 1
    with pytest.raises(ClassroomError, match=r"^Too many wrong passwords: try again in 1 s\.$"):
        guesses.check(PASSWORD)
    now[0] = password.PAUSE_SECONDS
    assert guesses.check(PASSWORD)


def test_a_short_password_is_refused_when_the_server_starts(monkeypatch, tmp_path):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("VGG_TEACHER_PASSWORD", "pw")
    monkeypatch.setenv("VGG_RUNS_DIR", str(tmp_path))
    app = AppTest.from_file(PROJECT_ROOT / "streamlit_app.py", default_timeout=60).run()
    assert not app.exception
    assert errors(app) == [
        "VGG_TEACHER_PASSWORD has 2 characters and class mode needs at least 10: restart the server with a longer "
        "password."
    ]
    assert not app.title, "a page was drawn with a guessable password"
