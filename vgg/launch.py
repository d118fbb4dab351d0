"""Starting a run's training process, one at a time per runs folder, and waiting for runs to end."""

import contextlib
import os
import pathlib
import subprocess
import sys
import time

from vgg import locks
from vgg.errors import UserError
from vgg.runs import RunError, create_run, list_runs, make_runs_dir, open_run
from vgg.status import State

PROJECT_ROOT = pathlib.Path(__file__).resolve().parent.parent
ENDED_STATES = (State.STOPPED, State.FINISHED, State.FAILED, State.INTERRUPTED)
# The training process yields the cores to the web server: pages stay quick while a run trains, and the
# run takes every cycle the pages leave.
TRAINING_NICENESS = 10
NICENESS_VARIABLE = "VGG_TRAINING_NICENESS"


def training_slot(runs_dir, blocking=True):
    """Held by a training process while it trains: one training per runs folder at a time."""
    return locks.file_lock(pathlib.Path(runs_dir) / locks.SLOT_LOCK, blocking)


def active_run(runs_dir, other_than=None):
    """The run that is queued or training in `runs_dir`, if any (a damaged run counts as not active)."""
    for run in list_runs(runs_dir):
        if run.name == other_than:
            continue
        with contextlib.suppress(UserError):
            if run.status().active:
                return run
    return None


def launch(runs_dir, run_name=None, config=None, preset=None, data_dir=None, resume=False, title=None, owner=None):
    """Starts `python -m vgg train` in its own process for a new run (given `config`) or an existing
    one (given `run_name`), unless another run is training in `runs_dir`. Returns (run, process).

    Two sessions pressing Start together serialize on a lock here: the second sees the first's run
    as active and is refused with a sentence naming it.
    """
    runs_dir = make_runs_dir(pathlib.Path(runs_dir).resolve())
    # Absolute paths: the training process runs from the project folder, wherever the server started.
    data_dir = str(pathlib.Path(data_dir).resolve()) if data_dir else None
    with locks.file_lock(runs_dir / locks.LAUNCH_LOCK):
        busy = active_run(runs_dir, other_than=run_name)
        if busy is not None:
            raise RunError(
                f"Run {busy.name!r} is already training on this machine; stop it or wait for it "
                "(two trainings at once would each run at half speed)."
            )
        if config is not None:
            run = create_run(runs_dir, config, name=run_name, preset=preset, data_dir=data_dir, title=title,
                             owner=owner)
        else:
            run = open_run(runs_dir, run_name)
        # The launcher takes the run's lock and hands it to the child, so the run is alive from here on.
        descriptor = locks.acquire(run.lock_path)
        if descriptor is None:
            raise RunError(f"Run {run.name!r} is training already.")
        try:
            return run, _start_process(run, runs_dir, data_dir, descriptor, resume)
        finally:
            os.close(descriptor)  # The child keeps its own copy: the lock now lives exactly as long as it does.


def _start_process(run, runs_dir, data_dir, descriptor, resume):
    command = [sys.executable, "-m", "vgg", "train", "--runs-dir", str(runs_dir), "--resume", run.name]
    if data_dir:
        command += ["--data-dir", str(data_dir)]
    with contextlib.suppress(FileNotFoundError):
        run.stop_path.unlink()
    run.update_status(state=State.QUEUED, pid=None, error=None, resumed=resume)
    python_path = os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))
    environment = dict(os.environ, PYTHONPATH=python_path, **{
        locks.INHERITED_LOCK_VARIABLE: str(descriptor), NICENESS_VARIABLE: str(TRAINING_NICENESS)})
    try:
        with open(run.log_path, "a") as log:
            # A new session keeps the training alive when the web server restarts or a page reloads.
            process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                cwd=PROJECT_ROOT, env=environment, pass_fds=(descriptor,),
            )
    except OSError as error:
        run.update_status(state=State.FAILED, error=f"Could not start training ({error.strerror or error}).")
        raise RunError(f"Could not start the training process ({error.strerror or error}).") from None
    run.update_status(condition=lambda status: status.pid is None, pid=process.pid)
    return process


def wait_for(run, states, timeout_seconds):
    """Polls until the run's state is one of `states`; returns the last status."""
    deadline = time.monotonic() + timeout_seconds
    status = run.status()
    while status.state not in states and time.monotonic() < deadline:
        time.sleep(0.2)
        status = run.status()
    return status


def stop_active_runs(runs_dir, timeout_seconds=60):
    """Asks every queued or running run in `runs_dir` to stop and waits for them (tests, shutdown)."""
    for run in list_runs(runs_dir):
        with contextlib.suppress(UserError):
            if run.status().active:
                run.request_stop()
                wait_for(run, ENDED_STATES, timeout_seconds)
