"""Starting runs: queueing a new or resumed run within the class's limits, and waiting for runs to end.

The queue and the slots themselves are vgg/runs/queue.py's; a run queued here starts at once when a slot is
free, else by itself when one frees.
"""

import contextlib
import functools
import pathlib
import time

from vgg.classroom.names import Student
from vgg.classroom.policy import check_student_start, same_person
from vgg.core import locks
from vgg.core.errors import UserError
from vgg.runs.disk import bytes_needed, make_room
from vgg.runs.folder import RunError, create_run, list_runs, make_runs_dir, open_run
from vgg.runs.queue import enqueue, start_due_runs
from vgg.runs.status import ENDED_STATES, PROCESS_STATES, State


def active_run(runs_dir, other_than=None):
    """A run that is queued, starting or training in `runs_dir`, if any (a damaged run counts as not active)."""
    for run in list_runs(runs_dir):
        if run.name == other_than:
            continue
        with contextlib.suppress(UserError):
            if run.status().active:
                return run
    return None


def training_runs(runs_dir):
    """The runs that hold a training slot now, newest first."""
    training = []
    for run in list_runs(runs_dir):
        with contextlib.suppress(UserError):
            if run.status().state in PROCESS_STATES:
                training.append(run)
    return training


def launch(
    runs_dir,
    run_name=None,
    config=None,
    preset=None,
    data_dir=None,
    resume=False,
    title=None,
    owner=None,
    limits=None,
    student=False,
    experiment=None,
    prediction=None,
):
    """Queues a new run (given `config`) or an existing one (given `run_name`), and starts it at once when a
    training slot is free. Returns (run, process); the process is None while the run waits in the queue.
    `experiment` and `prediction` (a guided experiment's id and its starter's prediction) are recorded before the
    run is queued, so no reader sees it train without them.

    `owner` is who starts it: a vgg.classroom.names.Student from the app, a bare name from the CLI and tests.
    `limits` (a ClassLimits), given for starts from the app, holds the runs folder to its disk budget and, when
    `student` is set, the student's run to the class's limits; the CLI is trusted and passes none. Checks and
    queueing hold one lock, so two sessions pressing Start together cannot both pass a limit.
    """
    runs_dir = make_runs_dir(pathlib.Path(runs_dir).resolve())
    # Absolute paths: the training process runs from the project folder, wherever the server started.
    data_dir = str(pathlib.Path(data_dir).resolve()) if data_dir else None
    owner = Student(owner) if isinstance(owner, str) else owner
    with locks.file_lock(runs_dir / locks.LAUNCH_LOCK):
        existing = None if config is not None else open_run(runs_dir, run_name)
        if existing is not None and existing.status().active:
            raise RunError(f"Run {existing.name!r} is queued or training already.")
        if limits is not None:
            _check_limits(runs_dir, existing, config, owner, limits, student)
        run = existing or create_run(
            runs_dir, config, name=run_name, preset=preset, data_dir=data_dir, title=title, owner=owner and owner.name
        )
        if existing is None and owner is not None:
            run.update_status(owner_key=owner.key, owner_browser=owner.browser, owner_address=owner.address)
        if data_dir and existing is not None:
            run.update_status(data_dir=data_dir)
        if experiment is not None:
            run.update_status(experiment=experiment, prediction=prediction)
        if limits is not None and student:
            run.update_status(student=True)
        enqueue(run, resume, time_limit_minutes=limits.max_training_minutes if limits and student else None)
    return run, start_due_runs(runs_dir).get(run.name)


def _check_limits(runs_dir, existing, config, owner, limits, student):
    """Refuses a start past the class's limits or the disk budget, in one sentence; prunes to make room."""
    config = config if existing is None else existing.config()
    if student:
        checkpoint = existing.checkpoint_state() if existing is not None else None
        check_student_start(
            list_runs(runs_dir),
            config,
            owner,
            limits,
            checkpoint.elapsed if checkpoint else 0.0,
            existing.status() if existing is not None else None,
        )
    # A resumed run has its checkpoint on disk already and grows by little.
    needed = bytes_needed(config) if existing is None else 0
    is_mine = functools.partial(same_person, student=owner)
    make_room(runs_dir, needed, limits.disk_budget_gb * 1e9, is_mine, limits.class_size if student else None)


def wait_for(run, states, timeout_seconds):
    """Polls until the run's state is one of `states`; returns the last status."""
    deadline = time.monotonic() + timeout_seconds
    status = run.status()
    while status.state not in states and time.monotonic() < deadline:
        time.sleep(0.2)
        status = run.status()
    return status


def stop_active_runs(runs_dir, timeout_seconds=60):
    """Cancels every queued run in `runs_dir`, then stops every training one and waits for it (tests, shutdown).
    Queued runs go first: a run that ends starts the next in line."""
    for queued_only in (True, False):
        for run in list_runs(runs_dir):
            with contextlib.suppress(UserError):
                status = run.status()
                if status.active and (status.state == State.QUEUED) == queued_only:
                    run.request_stop()
                    wait_for(run, ENDED_STATES, timeout_seconds)
