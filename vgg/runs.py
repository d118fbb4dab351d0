"""Training runs as folders: config, status, live metrics, checkpoints, and the one-at-a-time launcher.

A run folder holds:
    config.json      the TrainConfig it trains with
    status.json      state (created, queued, running, finished, stopped, failed), pid, device, error
    metrics.jsonl    one JSON line per logged batch and per epoch
    checkpoint.keras the model and optimizer state after the last finished epoch or stop
    model.keras      the final model, without optimizer state
    tensorboard/     logs for `tensorboard --logdir runs`
    log.txt          the training process's own output
Every JSON file is replaced atomically, so a crash mid-write leaves the last good version.
"""

import contextlib
import dataclasses
import datetime
import fcntl
import hashlib
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

from vgg.config import SettingError, TrainConfig, train_command
from vgg.errors import UserError

RUNS_DIR_VARIABLE = "VGG_RUNS_DIR"
PROJECT_ROOT = pathlib.Path(__file__).resolve().parent.parent
ACTIVE_STATES = ("queued", "running")
RUN_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
TRAINING_LOCK = ".training.lock"
LAUNCH_LOCK = ".launch.lock"


class RunError(UserError):
    """A run that cannot be found, started or resumed; its message is one sentence."""


def default_runs_dir():
    return pathlib.Path(os.environ.get(RUNS_DIR_VARIABLE) or "runs")


def write_json_atomically(path, value):
    """Writes JSON so that readers see the old file or the new one, never half of one."""
    path = pathlib.Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "w") as file:
            json.dump(value, file, indent=2)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise RunError(f"Could not write {path.name} ({error.strerror or error}); what was saved before is kept.") from None


def read_json(path, default=None):
    try:
        with open(path) as file:
            return json.load(file)
    except (OSError, ValueError):
        return default


def pid_alive(pid):
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except (OSError, ValueError):
        return False
    # A zombie (finished but not yet reaped by its parent) has stopped training too.
    try:
        with open(f"/proc/{int(pid)}/stat") as file:
            return file.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def _is_training_process(pid):
    """Whether `pid` is still a `python -m vgg train` process, not a recycled pid of something else."""
    try:
        with open(f"/proc/{int(pid)}/cmdline", "rb") as file:
            return b"vgg\x00train" in file.read()
    except (OSError, ValueError):
        return False


class _MetricsReader:
    """Parses each metrics.jsonl once: later reads parse only the lines appended since.

    A class of browsers each redraws a live chart every second; without this, every redraw
    re-parsed the whole file, on the same two cores that train. The rows returned are shared
    between callers: read them, never change them.
    """

    TAIL_BYTES = 64  # Compared on each read: a file replaced by one of equal or larger size is noticed.

    def __init__(self):
        self._lock = threading.Lock()
        self._files = {}  # path -> (inode, bytes parsed, their last TAIL_BYTES, rows)

    def read(self, path):
        key = str(path)
        try:
            with open(path, "rb") as file:
                status = os.fstat(file.fileno())
                with self._lock:
                    inode, offset, tail, rows = self._files.get(key, (None, 0, b"", []))
                    if inode != status.st_ino or status.st_size < offset or not self._same_tail(file, offset, tail):
                        # Replaced (a resume truncates by renaming), cut, or rewritten: start again.
                        offset, rows = 0, []
                    file.seek(offset)
                    appended = file.read(status.st_size - offset)
                    complete_end = appended.rfind(b"\n") + 1
                    rows = rows + _parse_lines(appended[:complete_end])
                    offset += complete_end
                    file.seek(max(0, offset - self.TAIL_BYTES))
                    self._files[key] = (status.st_ino, offset, file.read(min(offset, self.TAIL_BYTES)), rows)
                # A last line without its newline is still being written, or was cut short by a crash.
                return rows + _parse_lines(appended[complete_end:])
        except OSError:
            with self._lock:
                self._files.pop(key, None)
            return []

    def _same_tail(self, file, offset, tail):
        file.seek(max(0, offset - len(tail)))
        return file.read(len(tail)) == tail


def _parse_lines(data):
    rows = []
    for line in data.splitlines():
        with contextlib.suppress(ValueError):
            rows.append(json.loads(line))
    return rows


_metrics_reader = _MetricsReader()


def now_iso():
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


class Run:
    def __init__(self, path):
        self.path = pathlib.Path(path)
        self.name = self.path.name

    @property
    def config_path(self):
        return self.path / "config.json"

    @property
    def status_path(self):
        return self.path / "status.json"

    @property
    def metrics_path(self):
        return self.path / "metrics.jsonl"

    @property
    def checkpoint_path(self):
        return self.path / "checkpoint.keras"

    @property
    def model_path(self):
        return self.path / "model.keras"

    @property
    def stop_path(self):
        return self.path / "stop-requested"

    @property
    def log_path(self):
        return self.path / "log.txt"

    def exists(self):
        return self.config_path.exists()

    def config(self):
        values = read_json(self.config_path)
        if values is None:
            raise RunError(f"Run {self.name!r} has no readable config.json.")
        return TrainConfig.from_dict(values)

    def status(self):
        """The status with `state` as a user should see it: a run whose process died is `interrupted`,
        or `stopped` when someone asked it to stop after its last word (a stop while it was starting)."""
        status = read_json(self.status_path, default={"state": "unknown"})
        if status.get("state") in ACTIVE_STATES and not pid_alive(status.get("pid")):
            status["state"] = "stopped" if self._stop_requested_since(status.get("updated")) else "interrupted"
        return status

    def _stop_requested_since(self, timestamp):
        try:
            # The status keeps whole seconds: a stop in the same second as the last update counts.
            return self.stop_path.stat().st_mtime >= datetime.datetime.fromisoformat(timestamp).timestamp()
        except (OSError, TypeError, ValueError):
            return False

    def update_status(self, condition=None, **changes):
        """Merges `changes` into status.json (only if `condition(status)` holds, when given).

        The launcher and the training process both write it, so the read-modify-write holds a lock.
        """
        with _file_lock(self.path / ".status.lock", blocking=True):
            status = read_json(self.status_path, default={})
            if condition is not None and not condition(status):
                return status
            status.update(changes, updated=now_iso())
            write_json_atomically(self.status_path, status)
            return status

    def metrics(self):
        """Every complete metrics line; a line cut short by a crash is skipped."""
        return _metrics_reader.read(self.metrics_path)

    def truncate_metrics(self, last_step):
        """Drops the lines logged after the checkpoint a resumed run starts from."""
        kept = [row for row in self.metrics() if row.get("step", 0) <= last_step]
        temporary = self.metrics_path.with_name(".metrics.jsonl.tmp")
        with open(temporary, "w") as file:
            file.writelines(json.dumps(row) + "\n" for row in kept)
        os.replace(temporary, self.metrics_path)

    def request_stop(self):
        """Asks the training process to finish its batch, save a checkpoint and stop."""
        status = self.status()
        if status["state"] not in ACTIVE_STATES:
            raise RunError(f"Run {self.name!r} is not training (it is {status['state']}).")
        self.stop_path.touch()
        pid = status.get("pid")
        # While a run is queued its pid may still be this server's own: the stop file alone does then.
        if pid and int(pid) != os.getpid() and _is_training_process(pid):
            with contextlib.suppress(OSError):
                os.kill(int(pid), signal.SIGTERM)

    def summary(self):
        status = self.status()
        epochs = [row for row in self.metrics() if row.get("kind") == "epoch"]
        last = epochs[-1] if epochs else {}
        try:
            config = self.config()
        except (RunError, SettingError, TypeError):
            config = None
        return {
            "name": self.name,
            "state": status.get("state"),
            "created": status.get("created"),
            "device": status.get("device"),
            "error": status.get("error"),
            "epochs_done": last.get("epoch", 0),
            "epochs": config.epochs if config else None,
            "val_accuracy": last.get("val_accuracy"),
            # The finished model scored as the app predicts: averaged with mirror images if it trained on flips.
            "final_accuracy": status.get("final_accuracy"),
            "preset": status.get("preset"),
        }


def reproduce_command(config, preset_name, data_dir, started_from):
    """The `python -m vgg train` command of a run. One that started from another run's model reads that
    model where the other run's own command leaves it (runs/<name>/model.keras), not at this machine's path."""
    if started_from and "run" in started_from:
        config = dataclasses.replace(config, init_from=f"runs/{started_from['run']}/model.keras")
    return train_command(config, preset_name, data_dir and str(data_dir))


def model_origin(path):
    """What the model file at `path` is, for the record of a run that starts from it: its name and SHA-256
    and, when its card lies beside it (as in assets/) or it is a run's final model, that run's name, width,
    epochs, wall time, accuracy, command and own origin."""
    path = pathlib.Path(path)
    origin = {"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        card = json.loads(path.with_suffix(".json").read_text())
        return origin | {
            "run": card["run"], "width": card["config"]["width"], "epochs": card["epochs"],
            "wall_time_seconds": card["wall_time_seconds"], "val_accuracy": card["val_accuracy"],
            "command": card["command"], "started_from": card.get("started_from"),
        }
    run = Run(path.parent)
    if path.name == run.model_path.name and run.exists():
        # A run's final model: its own files tell the same things a card would.
        with contextlib.suppress(UserError, OSError, ValueError, KeyError, IndexError, TypeError):
            config, status = run.config(), run.status()
            epochs = [row for row in run.metrics() if row.get("kind") == "epoch"]
            return origin | {
                "run": run.name, "width": config.width, "epochs": len(epochs),
                "wall_time_seconds": epochs[-1]["elapsed"],
                "val_accuracy": status.get("final_accuracy") or epochs[-1]["val_accuracy"],
                "command": reproduce_command(config, status.get("preset"), status.get("data_dir"), status.get("started_from")),
                "started_from": status.get("started_from"),
            }
    return origin


def ancestors(started_from):
    """The runs a model grew from, nearest first, as far as their records go."""
    chain = []
    while started_from and "run" in started_from:
        chain.append(started_from)
        started_from = started_from.get("started_from")
    return chain


def run_path(runs_dir, name):
    """The folder of run `name`, refusing names that could reach outside `runs_dir`."""
    # fullmatch, not match: `$` also matches before a trailing newline, which let "name\n" through.
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


def list_runs(runs_dir):
    """Runs in `runs_dir`, newest first."""
    runs_dir = pathlib.Path(runs_dir)
    if not runs_dir.is_dir():
        return []
    runs = [Run(path) for path in runs_dir.iterdir() if path.is_dir() and (path / "config.json").exists()]
    return sorted(runs, key=lambda run: run.config_path.stat().st_mtime, reverse=True)


def new_run_name(runs_dir, prefix="run"):
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    name = f"{prefix}-{stamp}"
    suffix = 1
    while (pathlib.Path(runs_dir) / name).exists():
        suffix += 1
        name = f"{prefix}-{stamp}-{suffix}"
    return name


def create_run(runs_dir, config, name=None, preset=None, data_dir=None):
    """Makes the run folder with its config and a `queued` status."""
    runs_dir = pathlib.Path(runs_dir)
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise RunError(f"Cannot create the runs folder {runs_dir} ({error.strerror}).") from None
    name = name or new_run_name(runs_dir, prefix=preset or "run")
    run = Run(run_path(runs_dir, name))
    if run.path.exists():
        raise RunError(f"A run named {name!r} exists already; choose another name or resume it.")
    run.path.mkdir()
    try:
        write_json_atomically(run.config_path, json.loads(config.to_json()))
        # "created" until a training process takes it: only a process makes a run active.
        run.update_status(state="created", created=now_iso(), preset=preset, data_dir=data_dir, pid=None)
    except RunError:
        # A folder without its config is no run, yet its name would be taken: on a full disk the
        # retry after freeing space was refused with "exists already".
        shutil.rmtree(run.path, ignore_errors=True)
        raise
    return run


@contextlib.contextmanager
def _file_lock(path, blocking):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as file:
        flags = fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB)
        try:
            fcntl.flock(file, flags)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(file, fcntl.LOCK_UN)


def training_lock(runs_dir, blocking=True):
    """Held by a training process for its whole life: one training per runs folder at a time."""
    return _file_lock(pathlib.Path(runs_dir) / TRAINING_LOCK, blocking)


def active_run(runs_dir, other_than=None):
    """The run that is queued or training in `runs_dir`, if any."""
    for run in list_runs(runs_dir):
        if run.name != other_than and run.status().get("state") in ACTIVE_STATES:
            return run
    return None


def launch(runs_dir, run_name=None, config=None, preset=None, data_dir=None, resume=False):
    """Starts `python -m vgg train` in its own process for a new run (given `config`) or an
    existing one (given `run_name`), unless another run is training in `runs_dir`.

    Two sessions pressing Train together serialize on a lock here: the second sees the
    first's run as active and is refused with a sentence naming it.
    """
    runs_dir = pathlib.Path(runs_dir).resolve()
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise RunError(f"Cannot create the runs folder {runs_dir} ({error.strerror}).") from None
    # Absolute paths: the training process runs from the project folder, wherever the server started.
    data_dir = str(pathlib.Path(data_dir).resolve()) if data_dir else None
    with _file_lock(runs_dir / LAUNCH_LOCK, blocking=True):
        busy = active_run(runs_dir, other_than=run_name)
        if busy is not None:
            raise RunError(
                f"Run {busy.name!r} is already training on this machine; stop it or wait for it "
                "(two trainings at once would each run at half speed)."
            )
        if config is not None:
            run = create_run(runs_dir, config, name=run_name, preset=preset, data_dir=data_dir)
        else:
            run = open_run(runs_dir, run_name)
            if run.status().get("state") in ACTIVE_STATES:
                raise RunError(f"Run {run.name!r} is training already.")
        command = [sys.executable, "-m", "vgg", "train", "--runs-dir", str(runs_dir), "--resume", run.name]
        if data_dir:
            command += ["--data-dir", str(data_dir)]
        with contextlib.suppress(FileNotFoundError):
            run.stop_path.unlink()
        # Queued under this server's pid until the child writes its own, so the run counts as
        # active from this moment and a second launch is refused.
        run.update_status(state="queued", pid=os.getpid(), error=None, resumed=resume)
        environment = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])))
        try:
            with open(run.log_path, "a") as log:
                # A new session keeps the training alive when the web server restarts or a page reloads.
                process = subprocess.Popen(
                    command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    start_new_session=True, cwd=PROJECT_ROOT, env=environment,
                )
        except OSError as error:
            run.update_status(state="failed", pid=None, error=f"Could not start training ({error.strerror or error}).")
            raise RunError(f"Could not start the training process ({error.strerror or error}).") from None
        run.update_status(condition=lambda status: status.get("pid") == os.getpid(), pid=process.pid)
        return run, process


def progress(rows, config):
    """(fraction done, epochs done, images/s, seconds left or None) from a run's metrics rows."""
    batches = [row for row in rows if row.get("kind") == "batch"]
    if not batches:
        return 0.0, 0.0, 0.0, None
    last = batches[-1]
    speed = last.get("images_per_second") or 0.0
    images_per_epoch = last["step"] / max(last["epoch"], 1e-9) * config.batch_size
    seconds_left = (config.epochs - last["epoch"]) * images_per_epoch / speed if speed else None
    return min(1.0, last["epoch"] / config.epochs), last["epoch"], speed, seconds_left


def format_duration(seconds):
    """'2 h 05 min', '12 min', '40 s': a time left as a person says it."""
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    if seconds >= 60:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def stop_active_runs(runs_dir, timeout_seconds=60):
    """Asks every queued or running run in `runs_dir` to stop and waits for them (tests, shutdown)."""
    for run in list_runs(runs_dir):
        if run.status().get("state") in ACTIVE_STATES:
            with contextlib.suppress(RunError):
                run.request_stop()
            wait_for(run, ("stopped", "finished", "failed", "interrupted"), timeout_seconds)


def wait_for(run, states, timeout_seconds):
    """Polls until the run's state is one of `states`; returns the last status."""
    deadline = time.monotonic() + timeout_seconds
    status = run.status()
    while status.get("state") not in states and time.monotonic() < deadline:
        time.sleep(0.2)
        status = run.status()
    return status
