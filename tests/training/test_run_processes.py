"""Runs and their training processes: a dead run whose pid is now another process is interrupted and resumes,
a run is alive while its process holds the lock, and the CLI refuses a run another process holds."""

import os
import subprocess
import sys

from helpers import PROJECT_ROOT, subprocess_environment, tiny_config
from vgg.classroom.launch import active_run, launch, wait_for
from vgg.runs.folder import create_run
from vgg.runs.status import State


def test_a_dead_run_whose_pid_is_a_live_process_is_interrupted_and_resumes(tmp_path, image_folder, monkeypatch):
    run = create_run(tmp_path, tiny_config(epochs=1), name="ghost", data_dir=str(image_folder))
    # A live process that is not training it: this very test's pid, and a thread's id, both alive.
    for pid in (os.getpid(), os.getppid()):
        run.update_status(state=State.RUNNING, pid=pid)
        assert run.status().state == State.INTERRUPTED
        assert active_run(tmp_path) is None
    resumed, process = launch(tmp_path, "ghost", data_dir=image_folder, resume=True)
    assert process.wait(timeout=300) == 0
    assert wait_for(resumed, (State.FINISHED,), 10).state == State.FINISHED


def test_a_run_is_alive_while_its_process_holds_the_lock(tmp_path, image_folder, monkeypatch):
    run, process = launch(tmp_path, "alive", config=tiny_config(epochs=200, batch_size=8), data_dir=image_folder)
    try:
        # From the launch on, before the child has said anything, the run is alive and holds the slot: a
        # second start waits in the queue.
        assert run.alive() and run.status().state == State.STARTING
        second, second_process = launch(tmp_path, "second", config=tiny_config(), data_dir=image_folder)
        assert second_process is None and second.status().state == State.QUEUED
        second.request_stop()
        assert wait_for(run, (State.RUNNING,), 120).state == State.RUNNING
    finally:
        process.kill()
        process.wait()
    assert not run.alive() and run.status().state == State.INTERRUPTED


def test_the_cli_refuses_to_train_a_run_that_another_process_holds(tmp_path, image_folder, monkeypatch):
    run, process = launch(tmp_path, "held", config=tiny_config(epochs=200, batch_size=8), data_dir=image_folder)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "vgg", "train", "--resume", "held", "--runs-dir", str(tmp_path)],
            capture_output=True,
            text=True,
            env=subprocess_environment(),
            cwd=PROJECT_ROOT,
            timeout=120,
            check=False,
        )
        assert result.returncode == 2 and "already" in result.stderr, result.stderr[-1000:]
    finally:
        process.kill()
        process.wait()
