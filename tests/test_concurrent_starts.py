"""Two Start presses at once, without a browser: two threads launching runs at the same moment start
exactly one, and the other is told which run is training. Real training processes.
"""

import threading

from conftest import assert_one_sentence, stop_and_wait, subprocess_environment, tiny_config
from vgg.launch import active_run, launch
from vgg.runs import RunError


def start_when_both_are_ready(barrier, results, runs_dir, name, image_folder):
    """One thread's Start press: it launches once the other thread is ready too, and records what it got."""
    barrier.wait()
    try:
        results[name] = launch(runs_dir, name, config=tiny_config(epochs=200, batch_size=8), data_dir=image_folder)
    except RunError as error:
        results[name] = error


def test_two_threads_launching_at_once_start_exactly_one_run(image_folder, tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", subprocess_environment()["PYTHONPATH"])
    for attempt in range(4):
        runs_dir = tmp_path / f"runs-{attempt}"
        barrier = threading.Barrier(2)
        results = {}
        threads = [
            threading.Thread(target=start_when_both_are_ready, args=(barrier, results, runs_dir, name, image_folder))
            for name in ("left", "right")
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        started = {name: value for name, value in results.items() if isinstance(value, tuple)}
        refused = {name: value for name, value in results.items() if isinstance(value, RunError)}
        try:
            assert len(started) == 1 and len(refused) == 1, results
            (winner, (run, _)), = started.items()
            message = str(next(iter(refused.values())))
            assert f"Run {winner!r} is already training" in message
            assert_one_sentence(message)
            assert active_run(runs_dir).name == winner
            assert sorted(path.name for path in runs_dir.iterdir() if not path.name.startswith(".")) == [winner]
        finally:
            for run, process in started.values():
                stop_and_wait(run, process)
