"""Start presses racing for the last training slot, without a browser: two threads launching runs at the same
moment start exactly one and queue the other, with one slot and with two slots of which one is busy. Real
training processes."""

import threading

import pytest

from helpers import stop_and_wait, tiny_config
from vgg.classroom.launch import launch, stop_active_runs, training_runs, wait_for
from vgg.runs.queue import queued_runs
from vgg.runs.status import State


def start_when_both_are_ready(barrier, results, runs_dir, name, image_folder):
    """One thread's Start press: it launches once the other thread is ready too, and records what it got."""
    barrier.wait()
    results[name] = launch(runs_dir, name, config=tiny_config(epochs=200, batch_size=8), data_dir=image_folder)


@pytest.mark.parametrize("slots", [1, 2])
def test_two_starts_racing_for_the_last_slot_start_one_and_queue_the_other(slots, image_folder, tmp_path, monkeypatch):
    monkeypatch.setenv("VGG_TRAINING_SLOTS", str(slots))
    for attempt in range(2):
        runs_dir = tmp_path / f"runs-{attempt}"
        try:
            if slots == 2:  # One slot is taken by a run that trains already.
                _, first = launch(
                    runs_dir, "first", config=tiny_config(epochs=200, batch_size=8), data_dir=image_folder
                )
                assert first is not None
            barrier, results = threading.Barrier(2), {}
            threads = [
                threading.Thread(
                    target=start_when_both_are_ready, args=(barrier, results, runs_dir, name, image_folder)
                )
                for name in ("left", "right")
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
            # Either press's call may start either run (the one queued first goes first), so states tell.
            states = {name: run.status().state for name, (run, _) in results.items()}
            started = [name for name, state in states.items() if state in (State.STARTING, State.RUNNING)]
            waiting = [name for name, state in states.items() if state == State.QUEUED]
            assert len(started) == 1 and len(waiting) == 1, states
            assert [run.name for run in queued_runs(runs_dir)] == waiting
            assert sorted(run.name for run in training_runs(runs_dir)) == sorted(
                started + (["first"] if slots == 2 else [])
            )
            # The winner's end starts the one in line, with nobody pressing anything (stopped while it still
            # imports TensorFlow it would die of the signal: the server's pump starts the next one then).
            assert wait_for(results[started[0]][0], (State.RUNNING,), 120).state == State.RUNNING
            stop_and_wait(results[started[0]][0])
            status = wait_for(results[waiting[0]][0], (State.STARTING, State.RUNNING), 60)
            assert status.state in (State.STARTING, State.RUNNING), f"{waiting[0]} stayed {status.state}"
        finally:
            stop_active_runs(runs_dir)
