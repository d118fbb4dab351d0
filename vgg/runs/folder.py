"""Training runs as folders: finding, creating and reading them.

A run folder holds:
    config.json        the TrainConfig it trains with
    status.json        its RunStatus (vgg/runs/status.py)
    metrics.jsonl      one row per logged interval and per epoch (vgg/runs/metrics.py)
    diagnostics.jsonl  the training doctor's probes of the network, live (vgg/runs/diagnostics.py)
    checkpoint.keras   the model and optimizer state after the last finished epoch or stop
    checkpoint.json    where that checkpoint stands (CheckpointState)
    model.keras        the final model, without optimizer state
    weight_average.npz the running weight average, when the run averages weights
    tensorboard/       logs for `tensorboard --logdir runs`
    log.txt            the training process's own output
    .training.lock     held by its training process while it lives (vgg/core/locks.py)
Every file is replaced atomically (vgg/core/files.py), so a crash mid-write leaves the last good version.
"""

import contextlib
import dataclasses
import datetime
import os
import pathlib
import re
import shutil
import signal

from vgg.core import locks
from vgg.core.config import SettingError, TrainConfig
from vgg.core.errors import UserError
from vgg.core.files import DamagedFileError, read_json, read_json_object, write_json, write_text
from vgg.runs.metrics import kept_after_resume, read_metrics, row_line
from vgg.runs.status import PROCESS_STATES, DamagedRunError, RunStatus, State

RUN_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class RunError(UserError):
    """A run that cannot be found, started or resumed; its message is one sentence."""


def now_iso():
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


@dataclasses.dataclass(frozen=True)
class CheckpointState:
    epochs_done: int  # Whole epochs in the checkpoint; a resume trains from the next one.
    step: int  # The optimizer's step count when it was saved.
    elapsed: float  # Training seconds up to then.


@dataclasses.dataclass(frozen=True)
class RunSummary:
    """What a list of runs shows of each: never raises, a damaged run says so in `problem`."""

    name: str
    state: State
    title: str | None = None
    owner: str | None = None
    created: str | None = None
    preset: str | None = None
    device: str | None = None
    error: str | None = None
    epochs_done: int = 0
    epochs: int | None = None
    val_accuracy: float | None = None  # After the last finished epoch, on the images alone.
    best_val_accuracy: float | None = None  # The best of its epochs, on the images alone.
    final_accuracy: float | None = None  # The finished model scored as Predict does.
    minutes: float = 0.0  # Training time so far.
    pinned: bool = False
    problem: str | None = None  # Why the run is damaged.

    def to_dict(self):
        return dataclasses.asdict(self) | {"state": str(self.state)}


class Run:
    CONFIG_FILE = "config.json"  # A folder is a run when it holds its settings.

    @staticmethod
    def is_run_folder(path):
        return (pathlib.Path(path) / Run.CONFIG_FILE).exists()

    def __init__(self, path):
        self.path = pathlib.Path(path)
        self.name = self.path.name
        self.config_path = self.path / self.CONFIG_FILE
        self.status_path = self.path / "status.json"
        self.metrics_path = self.path / "metrics.jsonl"
        self.diagnostics_path = self.path / "diagnostics.jsonl"
        self.checkpoint_path = self.path / "checkpoint.keras"
        self.checkpoint_state_path = self.path / "checkpoint.json"
        self.model_path = self.path / "model.keras"
        self.weight_average_path = self.path / "weight_average.npz"
        self.stop_path = self.path / "stop-requested"
        self.log_path = self.path / "log.txt"
        self.lock_path = self.path / locks.RUN_LOCK

    def exists(self):
        return self.config_path.exists()

    def config(self):
        values = read_json(self.config_path)
        if not isinstance(values, dict):
            raise RunError(f"Run {self.name!r} has no readable config.json.")
        try:
            return TrainConfig.from_dict(values)
        except (SettingError, TypeError):
            raise DamagedRunError(f"Run {self.name!r} is damaged: its config.json is not a set of settings.") from None

    def recorded_status(self):
        """status.json as written, without checking whether its process still lives."""
        try:
            return RunStatus.from_dict(read_json_object(self.status_path, "status.json", {}), self.name)
        except DamagedFileError as error:
            raise DamagedRunError(f"Run {self.name!r} is damaged: its {error}") from None

    def status(self):
        """The status as a user should see it: a starting or running run whose training process no longer holds
        the run's lock is `interrupted`, or `stopped` when someone asked it to stop after its last word. A queued
        run needs no process: it waits on disk for the scheduler."""
        status = self.recorded_status()
        if status.state in PROCESS_STATES and not self.alive():
            stopped = self._stop_requested_since(status.updated)
            status = status.changed(state=State.STOPPED if stopped else State.INTERRUPTED)
        return status

    def alive(self):
        return locks.is_held(self.lock_path)

    def _stop_requested_since(self, timestamp):
        try:
            # The status keeps whole seconds: a stop in the same second as the last update counts.
            return self.stop_path.stat().st_mtime >= datetime.datetime.fromisoformat(timestamp).timestamp()
        except (OSError, TypeError, ValueError):
            return False

    def update_status(self, condition=None, **changes):
        """Applies `changes` to status.json (only if `condition(status)` holds, when given); returns the status.

        The launcher and the training process both write it, so the read-modify-write holds a lock. A run whose
        folder or settings are gone (deleted, archived) raises RunError rather than coming back as a ghost folder.
        """
        try:
            with locks.file_lock(self.path / ".status.lock"):
                if not self.exists():
                    raise FileNotFoundError(self.config_path)
                status = self.recorded_status()
                if condition is not None and not condition(status):
                    return status
                status = status.changed(**changes, updated=now_iso())
                write_json(self.status_path, status.to_dict())
                return status
        except FileNotFoundError:
            raise RunError(f"Run {self.name!r} no longer exists: it was deleted or archived.") from None

    def metrics(self):
        """The run's typed batch and epoch rows (vgg/runs/metrics.py)."""
        return read_metrics(self.metrics_path, self.name)

    def truncate_metrics(self, epochs_done):
        """Keeps the rows up to the checkpoint a resumed run starts from."""
        kept = kept_after_resume(self.metrics(), epochs_done)
        write_text(self.metrics_path, "".join(row_line(row) for row in kept))

    def checkpoint_state(self):
        """Where the checkpoint stands, or None when there is no record of it."""
        try:
            values = read_json_object(self.checkpoint_state_path, "checkpoint.json")
            return (
                None
                if values is None
                else CheckpointState(int(values["epochs_done"]), int(values["step"]), float(values["elapsed"]))
            )
        except (DamagedFileError, KeyError, TypeError, ValueError):
            raise DamagedRunError(
                f"Run {self.name!r} is damaged: its checkpoint.json is not a checkpoint record."
            ) from None

    def save_checkpoint_state(self, state):
        write_json(
            self.checkpoint_state_path, dataclasses.asdict(state), what=f"the checkpoint record of run {self.name!r}"
        )

    def request_stop(self):
        """Takes a queued run out of the queue; asks a training process to finish its batch, save a checkpoint
        and stop."""
        status = self.status()
        if not status.active:
            raise RunError(f"Run {self.name!r} is not training (it is {status.state}).")
        if not self.alive():
            # The scheduler starts a run only while it is still queued (under this lock): one of the two wins.
            cancelled = self.update_status(
                condition=lambda now: now.state == State.QUEUED,
                state=State.STOPPED,
                error="Cancelled while it waited in the queue.",
                queued_at=None,
            )
            if cancelled.state == State.STOPPED:
                return
        self.stop_path.touch()
        if status.pid and status.pid != os.getpid() and _is_training_process(status.pid):
            with contextlib.suppress(OSError):
                os.kill(status.pid, signal.SIGTERM)

    def summary(self):
        """What a list shows of the run: as much as its files tell, and the first damage found, if any."""
        problems = []

        def read(function, default):
            try:
                return function()
            except UserError as error:
                problems.append(str(error))
                return default

        status, metrics = read(self.status, None), read(self.metrics, None)
        config = read(self.config, None)
        read(self.checkpoint_state, None)
        last = metrics.epochs[-1] if metrics and metrics.epochs else None
        rows = metrics.rows() if metrics else []
        validated = metrics.validated_epochs if metrics else []
        return RunSummary(
            self.name,
            State.DAMAGED if problems else status.state,
            title=status and status.title,
            owner=status and status.owner,
            created=status and status.created,
            preset=status and status.preset,
            device=status and status.device,
            error=status and status.error,
            epochs_done=last.epoch if last else 0,
            epochs=config and (None if config.minutes else config.epochs),  # A run given minutes plans none.
            val_accuracy=last.val_accuracy if last else None,
            final_accuracy=status and status.final_accuracy,
            best_val_accuracy=max((row.val_accuracy for row in validated), default=None),
            minutes=rows[-1].elapsed / 60 if rows else 0.0,
            pinned=bool(status and status.pinned),
            problem=problems[0] if problems else None,
        )


def _is_training_process(pid):
    """Whether `pid` is a `python -m vgg train` process, so a stop signal never reaches a recycled pid."""
    try:
        with open(f"/proc/{int(pid)}/cmdline", "rb") as file:
            return b"vgg\x00train" in file.read()
    except (OSError, ValueError):
        return False


def run_path(runs_dir, name):
    """The folder of run `name`, refusing names that could reach outside `runs_dir`."""
    # fullmatch, not match: `$` also matches before a trailing newline, which would let "name\n" through.
    if not isinstance(name, str) or not RUN_NAME_PATTERN.fullmatch(name):
        raise RunError(
            # The first-character rule is said too: '-rf' or '.hidden' use only allowed characters.
            f"A run name uses letters, digits, '.', '_' and '-' only and starts with a letter or digit "
            f"(at most 64 characters). Received: {name!r}"
        )
    runs_dir = pathlib.Path(runs_dir).resolve()
    path = (runs_dir / name).resolve()
    if path.parent != runs_dir:
        raise RunError(f"Run name {name!r} points outside the runs folder.")
    return path


def open_run(runs_dir, name):
    run = Run(run_path(runs_dir, name))
    if not run.exists():
        raise RunError(f"No run named {name!r} in {runs_dir}.")
    return run


def run_folders(parent):
    """The run folders directly inside `parent`, in no order."""
    parent = pathlib.Path(parent)
    return [path for path in parent.iterdir() if Run.is_run_folder(path)] if parent.is_dir() else []


def list_runs(runs_dir):
    """Runs in `runs_dir`, newest first."""
    runs_dir = pathlib.Path(runs_dir)
    if not runs_dir.is_dir():
        return []
    return by_age(Run(path) for path in run_folders(runs_dir))[::-1]


def by_age(runs):
    """`runs` oldest first, by when their settings were written; a run deleted or archived meanwhile is left out."""
    dated = []
    for run in runs:
        with contextlib.suppress(OSError):
            dated.append((run.config_path.stat().st_mtime, run.name, run))
    return [run for _, _, run in sorted(dated, key=lambda entry: entry[:2])]


def new_run_name(runs_dir, prefix="run"):
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    name = f"{prefix}-{stamp}"
    suffix = 1
    while (pathlib.Path(runs_dir) / name).exists():
        suffix += 1
        name = f"{prefix}-{stamp}-{suffix}"
    return name


def make_runs_dir(runs_dir):
    runs_dir = pathlib.Path(runs_dir)
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise RunError(f"Cannot create the runs folder {runs_dir} ({error.strerror}).") from None
    return runs_dir


def create_run(runs_dir, config, name=None, preset=None, data_dir=None, title=None, owner=None):
    """Makes the run folder with its config and a `created` status; `title` and `owner` are what people call
    it and who started it (vgg/classroom/policy.py checks both)."""
    runs_dir = make_runs_dir(runs_dir)
    name = name or new_run_name(runs_dir, prefix=preset or "run")
    run = Run(run_path(runs_dir, name))
    if run.path.exists():
        raise RunError(f"A run named {name!r} exists already; choose another name or resume it.")
    run.path.mkdir()
    try:
        write_json(run.config_path, dataclasses.asdict(config))
        # "created" until a training process takes it: only a process makes a run active.
        run.update_status(
            state=State.CREATED, created=now_iso(), preset=preset, data_dir=data_dir, pid=None, title=title, owner=owner
        )
    except UserError:
        # A folder without its config is no run, yet its name would be taken: a retry after freeing
        # disk space must not be refused with "exists already".
        shutil.rmtree(run.path, ignore_errors=True)
        raise
    return run
