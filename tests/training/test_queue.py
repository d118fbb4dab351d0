"""The queue without a browser: cancelling and reordering, a run killed hard freeing its slot, the class's
time limit stopping a run cleanly, per-student limits, and the disk budget pruning and refusing."""

import os
import shutil
import signal
import time

import pytest

from helpers import assert_one_sentence, tiny_config, train_quietly
from vgg.classroom.launch import launch, stop_active_runs, wait_for
from vgg.classroom.policy import ClassLimits, ClassroomError
from vgg.core.files import write_json
from vgg.runs.disk import DiskBudgetError, folder_bytes, make_room
from vgg.runs.folder import create_run, open_run
from vgg.runs.queue import Pump, enqueue, forecast, move_up, queued_runs, start_due_runs
from vgg.runs.status import State


def test_queued_runs_wait_in_order_can_be_reordered_cancelled_and_start_when_the_slot_frees(
    busy_slot, image_folder, monkeypatch
):
    runs = [
        launch(busy_slot, name, config=tiny_config(epochs=1), data_dir=image_folder) for name in ("ada", "ben", "cy")
    ]
    assert all(process is None for _, process in runs)
    assert [run.name for run in queued_runs(busy_slot)] == ["ada", "ben", "cy"]
    places = forecast(busy_slot, lambda run: 60.0)
    assert [(place.run_name, place.position) for place in places] == [("ada", 1), ("ben", 2), ("cy", 3)]
    assert [place.starts_in_seconds for place in places] == [0.0, 60.0, 120.0]
    estimated = forecast(busy_slot)  # By default each run takes its own estimate on this machine.
    assert estimated[0].starts_in_seconds == 0.0 < estimated[1].starts_in_seconds < estimated[2].starts_in_seconds

    assert move_up(busy_slot, open_run(busy_slot, "cy")) is True
    assert [run.name for run in queued_runs(busy_slot)] == ["ada", "cy", "ben"]
    assert move_up(busy_slot, open_run(busy_slot, "ada")) is False
    open_run(busy_slot, "ada").request_stop()  # Cancelled: out of the queue, and it never trains.
    assert open_run(busy_slot, "ada").status().state == State.STOPPED
    assert [run.name for run in queued_runs(busy_slot)] == ["cy", "ben"]
    assert start_due_runs(busy_slot) == {}  # The slot is still busy.


def test_the_first_in_line_starts_when_the_slot_frees(tmp_path, image_folder, monkeypatch):
    runs_dir = tmp_path / "runs"
    first, process = launch(runs_dir, "first", config=tiny_config(epochs=200, batch_size=8), data_dir=image_folder)
    second, waiting = launch(runs_dir, "second", config=tiny_config(epochs=200, batch_size=8), data_dir=image_folder)
    pump = Pump(runs_dir)
    try:
        assert process is not None and waiting is None and second.status().state == State.QUEUED
        assert wait_for(first, (State.RUNNING,), 120).state == State.RUNNING
        # Killed hard, it says nothing and starts nobody: its slot frees with its process, and the server's pump
        # starts the next run.
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        assert first.status().state == State.INTERRUPTED
        pump.start()
        assert wait_for(second, (State.STARTING, State.RUNNING), 60).state in (State.STARTING, State.RUNNING)
    finally:
        pump.stop()
        stop_active_runs(runs_dir)


def test_the_class_time_limit_stops_a_run_cleanly_and_resumable(tmp_path, image_folder):
    run = create_run(tmp_path / "runs", tiny_config(epochs=500, batch_size=8), name="capped")
    enqueue(run, time_limit_minutes=0.05)  # 3 seconds of training.
    status = train_quietly(run, image_folder)
    assert status.state == State.STOPPED, status.traceback
    assert "limit of 0.05 min" in status.error
    assert run.checkpoint_path.exists() and run.metrics().batches


@pytest.mark.parametrize("trained_seconds", [10.0, 61.0])
def test_a_run_that_used_its_time_is_not_resumed_by_its_student(
    trained_seconds, busy_slot, trained_runs_dir, image_folder
):
    shutil.copytree(trained_runs_dir / "tiny", busy_slot / "tiny")
    run = open_run(busy_slot, "tiny")
    run.update_status(state=State.STOPPED, owner="Ada")
    state = run.checkpoint_state()
    write_json(
        run.checkpoint_state_path, {"epochs_done": state.epochs_done, "step": state.step, "elapsed": trained_seconds}
    )
    limits = ClassLimits(max_training_minutes=1.0)
    if trained_seconds < 60:
        launch(busy_slot, "tiny", data_dir=image_folder, owner="Ada", limits=limits, student=True, resume=True)
        assert run.status().state == State.QUEUED
        return
    with pytest.raises(ClassroomError, match="only the teacher can resume it") as refused:
        launch(busy_slot, "tiny", data_dir=image_folder, owner="Ada", limits=limits, student=True, resume=True)
    assert_one_sentence(str(refused.value))
    assert run.status().state == State.STOPPED


def finished_copy(source, runs_dir, name, age_seconds):
    shutil.copytree(source, runs_dir / name)
    stamp = time.time() - age_seconds
    os.utime(runs_dir / name / "config.json", (stamp, stamp))
    return open_run(runs_dir, name)


def test_the_disk_budget_prunes_the_oldest_finished_checkpoints_then_refuses(tmp_path, trained_runs_dir):
    runs_dir = tmp_path / "runs"
    runs_dir.mkdir()
    old = finished_copy(trained_runs_dir / "tiny", runs_dir, "old", 3600)
    new = finished_copy(trained_runs_dir / "tiny", runs_dir, "new", 60)
    stopped = finished_copy(trained_runs_dir / "tiny", runs_dir, "paused", 7200)
    stopped.update_status(state=State.STOPPED)
    checkpoint = old.checkpoint_path.stat().st_size
    used = folder_bytes(runs_dir)

    # Room for one checkpoint less than is used: the oldest finished run's checkpoint goes, nothing else.
    assert make_room(runs_dir, needed=1000, budget_bytes=used - checkpoint + 2000) == ["old"]
    assert not old.checkpoint_path.exists() and old.model_path.exists() and old.metrics().epochs
    assert new.checkpoint_path.exists() and stopped.checkpoint_path.exists()

    with pytest.raises(DiskBudgetError) as refused:
        make_room(runs_dir, needed=10**9, budget_bytes=folder_bytes(runs_dir))
    assert_one_sentence(str(refused.value))
    assert "budget" in str(refused.value) and "MB" in str(refused.value)
    # Pruning took what it could; what resuming needs and every final model stay.
    assert stopped.checkpoint_path.exists() and new.model_path.exists() and old.model_path.exists()


def test_a_start_past_the_disk_budget_is_refused_and_creates_nothing(tmp_path, trained_runs_dir, image_folder):
    runs_dir = tmp_path / "runs"
    finished_copy(trained_runs_dir / "tiny", runs_dir, "kept", 60)
    limits = ClassLimits(disk_budget_gb=folder_bytes(runs_dir) / 1e9)
    with pytest.raises(DiskBudgetError) as refused:
        launch(runs_dir, "more", config=tiny_config(), data_dir=image_folder, limits=limits)
    assert_one_sentence(str(refused.value))
    assert sorted(path.name for path in runs_dir.iterdir() if not path.name.startswith(".")) == ["kept"]
