"""The queue and the training slots: runs wait on disk, first in line first, and start by themselves when a
slot frees.

A queued run is only its status (state `queued`, its place `queued_at`), so the queue survives a server
restart. A slot is a lock file (`.slot-<i>.lock`) that the launcher takes and hands to the training process,
as it does the run's own lock: a slot is busy exactly while its process lives, and a run killed hard frees it.
There is one slot per GPU (each run pinned to its own), one on a CPU, where two runs would each train at half
speed. Anything may call `start_due_runs`: the launcher after queueing, a training process as it ends, and the
web server's pump every few seconds (which catches a run killed hard and a queue left by a restart).
"""

import contextlib
import dataclasses
import functools
import os
import pathlib
import subprocess
import sys
import threading
import time

from vgg.core import locks
from vgg.core.config import REDRAW_SECONDS
from vgg.core.errors import UserError
from vgg.core.estimate import estimate
from vgg.core.paths import PASSWORD_VARIABLE, PROJECT_ROOT
from vgg.runs.folder import RunError, list_runs
from vgg.runs.status import State, images_per_epoch
from vgg.runs.time_left import seconds_left

SLOTS_VARIABLE = "VGG_TRAINING_SLOTS"  # Overrides the count: two slots on a CPU tests the scheduler.
# The training process yields the cores to the web server: pages stay quick while a run trains, and the
# run takes every cycle the pages leave.
TRAINING_NICENESS = 10
NICENESS_VARIABLE = "VGG_TRAINING_NICENESS"
PUMP_SECONDS = REDRAW_SECONDS  # A run queued behind a freed slot starts within one redraw.
# The cluster backend (vgg/cluster/head.py) when the server trains on a Ray cluster: it starts the queue's runs and
# counts its slots; empty on one machine, where nothing here imports Ray.
_cluster = []


def use_cluster(backend):
    """Hands starting queued runs and counting slots to `backend` (None gives them back to this machine)."""
    _cluster[:] = [backend] if backend is not None else []


@functools.cache
def _gpu_count():
    """The NVIDIA GPUs this process may use, read from the driver without importing TensorFlow (the web
    server's pump asks before any page has loaded it)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([device for device in visible.split(",") if device.strip() and device.strip() != "-1"])
    with contextlib.suppress(OSError):
        return len(os.listdir("/proc/driver/nvidia/gpus"))
    return 0


def slot_count():
    """How many runs train at once: the cluster's room when the server trains on one, else VGG_TRAINING_SLOTS if
    set, else one per GPU, else one."""
    if _cluster:
        return _cluster[0].capacity()
    value = os.environ.get(SLOTS_VARIABLE, "")
    if value:
        if not value.isdigit() or not 1 <= int(value) <= 64:
            raise ValueError(f"{SLOTS_VARIABLE} must be a whole number from 1 to 64. Received: {value!r}")
        return int(value)
    return max(1, _gpu_count())


def slot_path(runs_dir, index):
    return pathlib.Path(runs_dir) / locks.SLOT_LOCK.format(index)


def busy_slots(runs_dir):
    return sum(locks.is_held(slot_path(runs_dir, index)) for index in range(slot_count()))


@contextlib.contextmanager
def holding_slot(runs_dir, on_wait=None):
    """Holds a training slot for the block: the one a launcher handed this process, or the first that frees
    (a run trained from the command line waits here; `on_wait` is called once if it has to)."""
    for index in range(slot_count()):
        descriptor = locks.inherited(slot_path(runs_dir, index), locks.INHERITED_SLOT_VARIABLE)
        if descriptor is not None:
            break
    else:
        descriptor = _wait_for_slot(runs_dir, on_wait)
    try:
        yield
    finally:
        os.close(descriptor)


def _wait_for_slot(runs_dir, on_wait):
    waited = False
    while True:
        for index in range(slot_count()):
            descriptor = locks.acquire(slot_path(runs_dir, index))
            if descriptor is not None:
                return descriptor
        if not waited and on_wait is not None:
            on_wait()
        waited = True
        time.sleep(1.0)


def queued_runs(runs_dir):
    """The queue, first in line first: runs waiting for a slot with no process of their own."""
    queue = []
    for run in list_runs(runs_dir):
        with contextlib.suppress(UserError):
            status = run.recorded_status()
            if status.state == State.QUEUED and not run.alive():
                queue.append((status.queued_at or 0.0, run.name, run))
    return [run for _, _, run in sorted(queue, key=lambda entry: entry[:2])]


def enqueue(run, resume=False, time_limit_minutes=None):
    """Puts `run` at the end of the queue."""
    with contextlib.suppress(FileNotFoundError):
        run.stop_path.unlink()  # A stop file from an earlier session must not stop the next one.
    run.update_status(
        state=State.QUEUED,
        queued_at=time.time(),
        pid=None,
        error=None,
        resumed=resume,
        time_limit_minutes=time_limit_minutes,
    )


def start_due_runs(runs_dir):
    """Starts queued runs, first in line first, while slots are free; returns {run name: process} started."""
    if _cluster:
        return _cluster[0].start_due_runs(runs_dir)
    runs_dir = pathlib.Path(runs_dir)
    started = {}
    if not runs_dir.is_dir():
        return started
    with locks.file_lock(runs_dir / locks.LAUNCH_LOCK):
        queue = queued_runs(runs_dir)
        for index in range(slot_count()):
            if not queue:
                break
            slot = locks.acquire(slot_path(runs_dir, index))
            if slot is None:
                continue
            try:
                run = queue.pop(0)
                started[run.name] = _start(run, runs_dir, index, slot)
            finally:
                os.close(slot)  # The child keeps its own copy: the slot is busy exactly as long as it lives.
    return started


def _start(run, runs_dir, slot_index, slot):
    """Starts the training process of queued `run` in slot `slot_index`, handing it the run's lock and the slot's."""
    try:
        descriptor = locks.acquire(run.lock_path)
    except FileNotFoundError:
        return None  # Deleted or archived since the queue was read.
    if descriptor is None:
        return None  # A process holds it already (a run trained from the command line that waits for a slot).
    try:
        # Only while it is still queued: a cancel since the queue was read wins, and nothing starts.
        status = run.update_status(condition=lambda now: now.state == State.QUEUED, state=State.STARTING, pid=None)
        if status.state != State.STARTING:
            return None
        command = [sys.executable, "-m", "vgg", "train", "--runs-dir", str(runs_dir), "--resume", run.name]
        if status.data_dir:
            command += ["--data-dir", status.data_dir]
        python_path = os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))
        environment = dict(
            os.environ,
            PYTHONPATH=python_path,
            **{
                locks.INHERITED_LOCK_VARIABLE: str(descriptor),
                locks.INHERITED_SLOT_VARIABLE: str(slot),
                NICENESS_VARIABLE: str(TRAINING_NICENESS),
            },
        )
        # The teacher's password has no use in training, and a child's environment is readable in /proc.
        environment.pop(PASSWORD_VARIABLE, None)
        if _gpu_count() and SLOTS_VARIABLE not in os.environ:
            environment["CUDA_VISIBLE_DEVICES"] = str(slot_index)  # Each run on its own GPU.
        try:
            with open(run.log_path, "a") as log:
                # A new session keeps the training alive when the web server restarts or a page reloads.
                process = subprocess.Popen(
                    command,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                    cwd=PROJECT_ROOT,
                    env=environment,
                    pass_fds=(descriptor, slot),
                )
        except OSError as error:
            run.update_status(state=State.FAILED, error=f"Could not start training ({error.strerror or error}).")
            raise RunError(f"Could not start the training process ({error.strerror or error}).") from None
        run.update_status(condition=lambda now: now.pid is None, pid=process.pid)
        return process
    finally:
        os.close(descriptor)


def move_up(runs_dir, run):
    """Swaps `run` with the run before it in the queue (the teacher's reordering); False when it is first."""
    with locks.file_lock(pathlib.Path(runs_dir) / locks.LAUNCH_LOCK):
        queue = queued_runs(runs_dir)
        names = [queued.name for queued in queue]
        if run.name not in names:
            raise RunError(f"Run {run.name!r} is not in the queue.")
        position = names.index(run.name)
        if position == 0:
            return False
        before = queue[position - 1]
        mine, theirs = run.recorded_status().queued_at, before.recorded_status().queued_at
        run.update_status(queued_at=theirs)
        before.update_status(queued_at=mine)
        return True


@dataclasses.dataclass(frozen=True)
class QueuePlace:
    run_name: str
    position: int  # 1 for the next to start.
    starts_in_seconds: float | None  # None when some run ahead has no estimate.


def run_estimate(run, runs):
    """The Estimate of `run`'s whole wall time on this machine's `runs`, on the images it recorded, if any."""
    config, status = run.config(), run.status()
    return estimate(config, images_per_epoch(config, status), runs, status.val_images)


def seconds_left_of(run, runs):
    """How long `run` will still hold a slot: what is left of each of its phases (vgg/runs/time_left.py), its
    training at its own pace once it trains, the rest from the estimate on this machine's `runs`, within its
    time limit."""
    config, status = run.config(), run.status()
    seconds = seconds_left(config, status, run.metrics(), run_estimate(run, runs))
    if status.time_limit_minutes is not None:
        seconds = min(seconds, status.time_limit_minutes * 60)
    return seconds


def forecast(runs_dir, seconds_left_of=None):
    """Where each queued run stands and when it should start: every slot is busy for its run's
    `seconds_left_of(run)`, then takes the next queued run for that run's `seconds_left_of`. By default a run's
    time is the module's `seconds_left_of`, None for a run whose files cannot say."""
    if seconds_left_of is None:
        seconds_left_of = _estimator(list_runs(runs_dir))
    free_at = []
    for run in list_runs(runs_dir):
        with contextlib.suppress(UserError):
            if run.status().state in (State.STARTING, State.RUNNING):
                free_at.append(seconds_left_of(run))
    free_at += [0.0] * max(0, slot_count() - len(free_at))
    places = []
    for position, run in enumerate(queued_runs(runs_dir), start=1):
        free_at.sort(key=lambda seconds: float("inf") if seconds is None else seconds)
        start = free_at.pop(0)
        places.append(QueuePlace(run.name, position, start))
        needed = seconds_left_of(run)
        free_at.append(None if start is None or needed is None else start + needed)
    return places


def _estimator(runs):
    def left(run):
        with contextlib.suppress(UserError):
            return seconds_left_of(run, runs)
        return None

    return left


class Pump(threading.Thread):
    """Starts due runs every few seconds for as long as the web server lives (one per server process)."""

    def __init__(self, runs_dir):
        super().__init__(name="vgg-queue-pump", daemon=True)
        self.runs_dir = runs_dir
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            with contextlib.suppress(Exception):  # A passing error (a full disk) must not end the queue for good.
                if pathlib.Path(self.runs_dir).is_dir():
                    start_due_runs(self.runs_dir)
            self.stopping.wait(PUMP_SECONDS)

    def stop(self):
        self.stopping.set()


_pumps = {}
_pumps_lock = threading.Lock()


def ensure_pump(runs_dir):
    """The one live Pump of `runs_dir` in this process, started on first call: kept here rather than in a page
    cache, since any client may clear those and a second pump would start runs beside the first."""
    key = str(pathlib.Path(runs_dir).resolve())
    with _pumps_lock:
        pump = _pumps.get(key)
        if pump is None or not pump.is_alive():
            pump = _pumps[key] = Pump(runs_dir)
            pump.start()
        return pump
