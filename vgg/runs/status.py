"""A run's status: the one typed record behind status.json, and the states a run goes through."""

import dataclasses
import enum
import types
import typing

from vgg.core.cifar10 import TRAINING_IMAGES
from vgg.core.errors import UserError


class State(enum.StrEnum):
    CREATED = "created"  # The folder exists; no training process has taken it yet.
    QUEUED = "queued"  # Waits in the queue for a training slot (vgg/runs/queue.py); no process needed.
    STARTING = "starting"  # A training process has taken it and a slot, and prepares data and model.
    RUNNING = "running"
    STOPPED = "stopped"  # Asked to stop; resumable from its last checkpoint.
    INTERRUPTED = "interrupted"  # Its process died (killed, machine restarted); resumable too.
    FAILED = "failed"
    FINISHED = "finished"
    DAMAGED = "damaged"  # Never written: what readers say of a run whose files hold the wrong types.


ACTIVE_STATES = (State.QUEUED, State.STARTING, State.RUNNING)
PROCESS_STATES = (State.STARTING, State.RUNNING)  # A run in these without a live process was interrupted.
RESUMABLE_STATES = (State.STOPPED, State.INTERRUPTED, State.FAILED)
ENDED_STATES = (State.STOPPED, State.FINISHED, State.FAILED, State.INTERRUPTED)  # Its process is gone.


class DamagedRunError(UserError):
    """A run file that is valid JSON of the wrong type; its message is one sentence naming the run and file."""


# How the app names a run's 16-bit precision; float32 goes unsaid, as every saved model computes in it.
PRECISION_WORDS = {"mixed_bfloat16": "trains in 16-bit bfloat16", "mixed_float16": "trains in 16-bit float16"}


@dataclasses.dataclass
class RunStatus:
    state: State = State.CREATED
    created: str | None = None  # ISO time the run folder was made.
    updated: str | None = None  # ISO time of the last change, in whole seconds.
    preset: str | None = None  # The preset the settings started from.
    title: str | None = None  # What its starter called it ("group 3, lr 0.01"): lists show it, not the folder name.
    owner: str | None = None  # Who started it (the name a browser gave).
    # The SHA-256 of that name's secret (vgg/classroom/names.py), never the secret: only its holder and the teacher
    # control the run; the browser's and the network address's traces count a student's runs however they sign.
    owner_key: str | None = None
    owner_browser: str | None = None
    owner_address: str | None = None
    student: bool = False  # Started by a student in class mode: once it ends, its checkpoint may be pruned for room.
    experiment: str | None = None  # The guided experiment (experiments/<id>.toml) it runs, if any.
    prediction: str | None = None  # The outcome its starter predicted before starting the experiment.
    data_dir: str | None = None  # The image folder it trains on; None for Keras' download.
    pid: int | None = None  # The training process, for a stop signal; liveness comes from the run's lock.
    resumed: bool = False
    queued_at: float | None = None  # Its place in the queue (seconds since 1970); the teacher's reordering swaps them.
    time_limit_minutes: float | None = None  # The class's cap on its training time; None when it has none.
    pinned: bool = False  # Pinned by the teacher on the run board, for discussion.
    device: str | None = None  # "CPU (model, 2 cores)" or "GPU (...)".
    node: str | None = None  # The cluster machine it trains or trained on (vgg/cluster/), None on the server's own.
    node_id: str | None = None  # That machine's Ray node id: two nodes may share a name.
    replicas: int | None = None
    precision: str | None = None  # The Keras dtype policy (PRECISION_WORDS).
    jit_compile: bool | None = None
    phase: str | None = None  # The phase it is in (vgg/core/phases.py), while its process lives.
    phase_started: float | None = None  # When that phase began (seconds since 1970): readers count its time.
    phase_done: int | None = None  # Images done of `phase_total` while validating or scoring.
    phase_total: int | None = None
    phase_seconds: dict | None = None  # {phase: seconds} of the phases it left, summed over its sessions.
    error: str | None = None  # One sentence for the user when it failed.
    traceback: str | None = None
    data_source: str | None = None
    train_images: int | None = None
    val_images: int | None = None
    started_from: dict | None = None  # The model file it started from (vgg/runs/record.py's origin).
    averaged_epochs: int | None = None
    final_accuracy: float | None = None  # The finished model scored as Predict does.
    final_single_view_accuracy: float | None = None
    final_flip_average: bool | None = None
    final_unsure_below: float | None = None  # The top probability 95% of validation images exceed (Predict's "unsure").
    final_score_error: str | None = None

    @classmethod
    def from_dict(cls, values, run_name="?"):
        """The record in `values`, checking every field's type; a wrong one raises DamagedRunError."""
        if not isinstance(values, dict):
            raise DamagedRunError(f"Run {run_name!r} is damaged: its status.json is not a record.")
        fields = {field.name: field for field in dataclasses.fields(cls)}
        kept = {}
        for name, value in values.items():
            if name not in fields:
                continue  # A field a newer or older version wrote: ignored, not fatal.
            if name == "state":
                try:
                    value = State(value)
                except ValueError:
                    raise DamagedRunError(
                        f"Run {run_name!r} is damaged: its status.json has state {value!r}."
                    ) from None
            elif not _has_type(value, fields[name].type):
                raise DamagedRunError(
                    f"Run {run_name!r} is damaged: {name} in its status.json is {value!r}, of the wrong type."
                )
            kept[name] = value
        return cls(**kept)

    def to_dict(self):
        return dataclasses.asdict(self) | {"state": str(self.state)}

    def changed(self, **changes):
        unknown = set(changes) - {field.name for field in dataclasses.fields(self)}
        if unknown:
            raise TypeError(f"RunStatus has no field(s) {', '.join(sorted(unknown))}. Received: {changes!r}")
        return dataclasses.replace(self, **changes)

    @property
    def active(self):
        return self.state in ACTIVE_STATES


def images_per_epoch(config, status=None):
    """The training images a run with `config` sees per epoch: the count its trainer recorded in `status`, else
    its subset, else CIFAR-10's training images less the validation split."""
    recorded = status.train_images if status is not None else None
    return recorded or config.train_subset or TRAINING_IMAGES - config.validation_size


def _has_type(value, annotation):
    """Whether a JSON value fits a field annotation such as `int | None` (an int is a fine float)."""
    options = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    for option in options:
        if option is type(None) and value is None:
            return True
        if option is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return True
        if option is int and isinstance(value, int) and not isinstance(value, bool):
            return True
        if option in (str, bool, dict) and isinstance(value, option):
            return True
    return False
