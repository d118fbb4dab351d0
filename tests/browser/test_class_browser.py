"""A class in real browsers: two students and the teacher on one class-mode server. A student cannot stop
another's run, a second run queues and starts by itself, the teacher cancels a queued run and deletes a
finished one; and a queue left on disk starts after a server restart."""

import re

import pytest

from browser_helpers import app_server, choose_option, close_pages, new_page, no_exception, press_until, screenshot
from helpers import PASSWORD, tiny_config
from vgg.classroom.launch import stop_active_runs, training_runs, wait_for
from vgg.classroom.names import Student
from vgg.classroom.policy import ClassroomError, check_control
from vgg.runs.folder import create_run, list_runs, open_run
from vgg.runs.queue import enqueue, queued_runs
from vgg.runs.status import State


def start_long_run(page, label):
    """Presses Start (or Queue run) for a run of 500 epochs on 400 images, named `label`."""
    from playwright.sync_api import expect

    page.get_by_role("textbox", name="Name this run (optional)").fill(label)
    page.get_by_role("textbox", name="Name this run (optional)").press("Enter")
    for name, value in (("Epochs", 500), ("Images (0 = all)", 400)):
        field = page.get_by_label(name, exact=True)
        field.fill(str(value))
        field.press("Enter")
        page.wait_for_timeout(1000)
    button = page.get_by_role("button", name=re.compile(r"^(Start training|Queue run)$"))
    expect(button).to_be_enabled(timeout=60_000)
    button.click()


def run_titled(runs_dir, title):
    return next((run for run in list_runs(runs_dir) if run.status().title == title), None)


def test_two_students_and_the_teacher_share_the_queue(browser, class_server, tmp_path):
    from playwright.sync_api import expect

    runs_dir = class_server.runs_dir
    ben, ada, teacher = pages = [
        new_page(browser, f"{class_server.url}/train{query}") for query in ("?me=Ben", "?me=Ada", "")
    ]
    try:
        for page in pages:
            expect(page.get_by_role("heading", name="Train VGG16")).to_be_visible(timeout=120_000)
        start_long_run(ben, "Ben, lr 0.1")
        expect(ben.get_by_text(re.compile(r"is (starting|running) · .* started by Ben"))).to_be_visible(timeout=90_000)
        bens = run_titled(runs_dir, "Ben, lr 0.1")
        assert wait_for(bens, (State.RUNNING,), 120).state == State.RUNNING

        # Ada sees Ben's run, without a Stop button; forced, the stop is refused in one sentence.
        expect(ada.get_by_text(re.compile(r"started by Ben"))).to_be_visible(timeout=60_000)
        expect(ada.get_by_role("button", name="Stop")).to_have_count(0)
        with pytest.raises(ClassroomError, match="belongs to Ben"):
            check_control(bens, bens.status(), Student("Ada"), teacher=False)

        # Ada's run waits behind Ben's, then starts by itself when Ben stops his.
        start_long_run(ada, "Ada, no flips")
        expect(ada.get_by_text(re.compile(r"is in the queue"))).to_be_visible(timeout=60_000)
        adas = run_titled(runs_dir, "Ada, no flips")
        assert adas.status().state == State.QUEUED
        expect(ben.get_by_text(re.compile(r"Queue · 1 waiting"))).to_be_visible(timeout=60_000)
        press_until(ben.get_by_role("button", name="Stop"), lambda: bens.status().state != State.RUNNING)
        assert wait_for(adas, (State.STARTING, State.RUNNING), 120).state in (State.STARTING, State.RUNNING)
        expect(ada.get_by_text(re.compile(r"is (starting|running) · .* started by Ada"))).to_be_visible(timeout=90_000)

        # Ben queues again; the teacher unlocks the controls, cancels Ben's queued run and deletes a finished one.
        start_long_run(ben, "Ben, second try")
        bens_second = None
        for _ in range(100):
            bens_second = bens_second or run_titled(runs_dir, "Ben, second try")
            if bens_second is not None:
                break
            ben.wait_for_timeout(300)
        assert bens_second is not None  # Made first, then put in the queue: the state may still read "created".
        assert wait_for(bens_second, (State.QUEUED,), 30).state == State.QUEUED
        teacher.get_by_role("textbox", name="Teacher's password").fill(PASSWORD)
        teacher.get_by_role("textbox", name="Teacher's password").press("Enter")
        cancel = teacher.get_by_role("button", name="Cancel")
        expect(cancel).to_have_count(1, timeout=90_000)
        screenshot(teacher, "class-train-teacher")
        press_until(cancel, lambda: bens_second.status().state == State.STOPPED)
        expect(teacher.get_by_text(re.compile(r"Queue · "))).to_have_count(0, timeout=60_000)
        # The teacher may stop anyone's run: Ada's, shown live on the teacher's page.
        press_until(teacher.get_by_role("button", name="Stop"), lambda: adas.status().state == State.STOPPED)
        expect(teacher.get_by_role("button", name="Start training")).to_be_visible(timeout=60_000)
        teacher.get_by_text("Delete a run").click()
        choose_option(teacher, "Run to delete", re.compile(r"^tiny"))
        teacher.get_by_text(re.compile(r"Yes, delete run 'tiny")).click()
        press_until(teacher.get_by_role("button", name="Delete", exact=True), lambda: not (runs_dir / "tiny").exists())
        assert not (runs_dir / "tiny").exists()

        teacher.get_by_role("link", name="Run board").click()  # In the same session: the teacher stays unlocked.
        expect(teacher.get_by_role("heading", name="Run board")).to_be_visible(timeout=60_000)
        expect(teacher.get_by_text("Pinned for discussion")).to_be_visible(timeout=60_000)
        screenshot(teacher, "class-run-board")
        for page in pages:
            no_exception(page)
    finally:
        close_pages(pages, tmp_path)
        stop_active_runs(runs_dir)


def test_a_queue_left_on_disk_starts_after_a_server_restart(browser, tmp_path, image_folder):
    from playwright.sync_api import expect

    runs_dir = tmp_path / "runs"
    # What a restarted server finds: two runs queued on disk, and no training process.
    for name, owner in (("first-in-line", "Ada"), ("second-in-line", "Ben")):
        run = create_run(
            runs_dir, tiny_config(epochs=200, batch_size=8), name=name, owner=owner, data_dir=str(image_folder)
        )
        enqueue(run)
    with app_server(tmp_path, image_folder) as server:
        page = new_page(browser, f"{server.url}/train")
        try:
            expect(page.get_by_role("heading", name="Train VGG16")).to_be_visible(timeout=120_000)
            first = open_run(runs_dir, "first-in-line")
            assert wait_for(first, (State.STARTING, State.RUNNING), 60).state in (State.STARTING, State.RUNNING)
            assert [run.name for run in training_runs(runs_dir)] == ["first-in-line"]
            assert [run.name for run in queued_runs(runs_dir)] == ["second-in-line"]
            expect(page.get_by_text(re.compile(r"Queue · 1 waiting"))).to_be_visible(timeout=60_000)
            no_exception(page)
        finally:
            close_pages([page], tmp_path)
            stop_active_runs(runs_dir)
