""" "Follow me" and the teacher's class dashboard without a browser: the shared record, a student's browser moved
once per change of the teacher's view (through the app's router), the opt-out and the release; and the dashboard's
roster and chart of predictions against outcomes."""

import html
import json

import pytest
from streamlit.testing.v1 import AppTest

from helpers import PASSWORD, PROJECT_ROOT, TINY_EXPERIMENT, experiment_file, page_test, texts, tiny_config
from vgg.classroom.follow import FOLLOW_FILE, FollowRecord, View, lead, move_for, publish, read_follow, release
from vgg.runs.folder import create_run
from vgg.runs.queue import enqueue
from vgg.runs.status import State


def test_the_record_counts_changes_and_a_student_moves_once_per_change(tmp_path):
    assert read_follow(tmp_path) == FollowRecord()  # No file: the class is its own.
    assert publish(tmp_path, View("data")).on is False  # Sharing before leading moves nobody.
    inside = View("inside", {"layer": "block3_conv1"})
    first = lead(tmp_path, View("data"))
    assert first.on and first.view == View("data")
    assert publish(tmp_path, View("data")) == first  # An unchanged view is no change.
    second = publish(tmp_path, inside)
    assert read_follow(tmp_path) == second and second.seq == first.seq + 1

    assert move_for(second, first.seq, opted_out=False, here=View("data")) == inside
    assert move_for(second, second.seq, opted_out=False, here=View("board")) is None  # Followed already.
    assert move_for(second, first.seq, opted_out=True, here=View("data")) is None
    assert move_for(second, None, opted_out=False, here=inside) is None  # There already.

    released = release(tmp_path)
    assert not released.on and released.seq == second.seq + 1
    assert move_for(released, None, opted_out=False, here=View("data")) is None
    assert publish(tmp_path, View("board")) == released


@pytest.mark.parametrize("text", ["", "[1, 2]", '{"on": true, "view": {"page": 3}}', '{"on": "yes", "view": null}'])
def test_a_damaged_record_reads_as_a_released_class(tmp_path, text):
    (tmp_path / FOLLOW_FILE).write_text(text)
    assert read_follow(tmp_path).on is False


def router(me=None, teacher=False):
    """The whole app (its router and the Data page it opens on) as one browser; a teacher's unlocked session."""
    app = AppTest.from_file(str(PROJECT_ROOT / "streamlit_app.py"), default_timeout=120)
    if me:
        app.query_params["me"] = me
    if teacher:
        app.session_state["teacher"] = True  # The password's check is test_class_controls.py's.
    app.run()
    assert not app.exception, app.exception
    return app


def following_notice(app):
    return any(notice.value.startswith("Following the teacher") for notice in app.sidebar.info)


def test_a_student_follows_the_teachers_view_until_opting_out_or_the_release(class_environment):
    runs_dir = class_environment
    teacher, ada = router(teacher=True), router(me="Ada")
    assert not following_notice(ada)
    teacher.toggle(key="follow_me").set_value(True).run()
    assert read_follow(runs_dir).on and read_follow(runs_dir).view.page == "data"

    # The teacher picks two classes on the Data page; the student's next tick shows the same two.
    teacher.pills(key="data_classes").set_value(["cat", "ship"]).run()
    assert read_follow(runs_dir).view.params["classes"] == "cat,ship"
    ada.run()
    assert following_notice(ada)
    assert ada.pills(key="data_classes").value == ["cat", "ship"]
    assert ada.query_params["me"] == "Ada"  # The student keeps their name.

    # Between the teacher's changes the student's own choice stands.
    ada.pills(key="data_classes").set_value(["frog"]).run()
    ada.run()
    assert ada.pills(key="data_classes").value == ["frog"]

    # Opted out, the teacher's next change leaves the student's screen alone.
    ada.toggle(key="follow_teacher").set_value(False).run()
    teacher.pills(key="data_classes").set_value(["dog"]).run()
    ada.run()
    assert ada.pills(key="data_classes").value == ["frog"] and not following_notice(ada)

    # Released: no notice, no switch, the student's choices are their own.
    ada.toggle(key="follow_teacher").set_value(True).run()
    ada.run()
    assert ada.pills(key="data_classes").value == ["dog"]  # Following again goes to the teacher's view at once.
    teacher.toggle(key="follow_me").set_value(False).run()
    assert not read_follow(runs_dir).on
    ada.run()
    assert not following_notice(ada) and not [toggle for toggle in ada.sidebar.toggle if toggle.key == "follow_teacher"]


def experiment_run(runs_dir, owner, prediction, val_accuracy=None):
    """A run of the tiny experiment started by `owner`: finished at `val_accuracy`, or queued without one."""
    run = create_run(runs_dir, tiny_config(), name=f"{owner.lower()}s", title="Tiny learner", owner=owner)
    run.update_status(experiment="tiny", prediction=prediction)
    if val_accuracy is None:
        enqueue(run)
    else:
        finish(run, val_accuracy)
    return run


def finish(run, val_accuracy):
    run.update_status(state=State.FINISHED)
    run.metrics_path.write_text(
        json.dumps(
            {"kind": "epoch", "step": 4, "epoch": 4, "loss": 1.0, "accuracy": 0.6, "learning_rate": 0.05}
            | {"images_per_second": 100.0, "elapsed": 30.0, "val_loss": 1.2, "val_accuracy": val_accuracy}
        )
        + "\n"
    )


def bar_counts(app):
    """{bar name: {prediction: count}} of the dashboard's chart of predictions against outcomes, its labels read as
    Plotly draws them (their entities as characters)."""
    [chart] = [chart for chart in app.get("plotly_chart") if "class_predictions_chart" in chart.proto.id]
    figure = json.loads(chart.proto.spec)
    return {
        html.unescape(trace["name"]): dict(zip(map(html.unescape, trace["y"][1]), trace["x"], strict=True))
        for trace in figure["data"]
    }


def test_the_teachers_dashboard_shows_who_waits_trains_and_how_predictions_came_out(
    experiments_environment, monkeypatch
):
    runs_dir = experiments_environment
    monkeypatch.setenv("VGG_TEACHER_PASSWORD", PASSWORD)
    experiment_file(runs_dir.parent / "experiments", "tiny", TINY_EXPERIMENT)
    experiment_run(runs_dir, "Ben", "learns", val_accuracy=0.9)
    experiment_run(runs_dir, "Cy", "learns", val_accuracy=0.1)
    adas = experiment_run(runs_dir, "Ada", "chance")

    student = page_test("experiments_page", me="Dee").run()
    assert "The class now" not in " ".join(header.value for header in student.subheader)

    teacher = page_test("experiments_page").run()
    teacher.text_input(key="teacher_password").set_value(PASSWORD).run()
    assert not teacher.exception, teacher.exception
    assert "The class now" in [header.value for header in teacher.subheader]
    shown = texts(teacher)
    assert "**Queued** · 1" in shown and "1. Ada · Tiny learner" in shown
    assert "**Finished** · 2" in shown and "Ben · Tiny learner" in shown and "Cy · Tiny learner" in shown
    assert "Updates by itself every" in shown
    learns, chance = "Yes, above 50% on validation images.", "No, it stays near chance."
    counts = bar_counts(teacher)
    assert counts["came true"][learns] == 1 and counts["did not"][learns] == 1
    assert counts["run not ended"][chance] == 1
    happened = dict(
        zip(teacher.dataframe[1].value["student"], teacher.dataframe[1].value["what happened"], strict=True)
    )
    assert happened["Ada"] == "waiting in the queue"

    # Ada's run ends at chance: her prediction came true on the next draw.
    finish(adas, 0.1)
    teacher.run()
    assert bar_counts(teacher)["came true"][chance] == 1 and "**Queued** · 0" in texts(teacher)
