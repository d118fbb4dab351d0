"""Recorded runs shipped in assets/replays/: the records (settings, status, metrics, diagnostics; no weights) of a
real `blog-short` run and of its fix, so a fresh install shows the blog's failure and the doctor's verdict at
once, and can replay them as they happened.

Each was made by the project's own trainer with the command in its folder's COMMAND file; rebuild them with
`python -m vgg replays --data-dir ../shared/cifar10`.
"""

import dataclasses
import pathlib
import shutil

from vgg.core.paths import ASSETS_DIR
from vgg.runs.diagnostics import Diagnostics, read_diagnostics
from vgg.runs.folder import Run
from vgg.runs.metrics import Metrics

REPLAYS_DIR = ASSETS_DIR / "replays"
RECORD_FILES = ("config.json", "status.json", "metrics.jsonl", "diagnostics.jsonl")
# The blog's recipe as the Train page offers it, then the doctor's fix one change at a time: batch normalization
# alone (its Dense 4096 layers still die within the short epoch), then with a learning rate ten times lower too.
RECIPES = {
    "blog-short": ["--preset", "blog-short"],
    "blog-short-batch-norm": ["--preset", "blog-short", "--batch-norm"],
    "blog-short-fixed": ["--preset", "blog-short", "--batch-norm", "--learning-rate", "0.0001"],
}


def replays(folder=REPLAYS_DIR):
    """The shipped recorded runs, as Run objects (read-only: they have no checkpoint to resume)."""
    folder = pathlib.Path(folder)
    return [Run(folder / name) for name in RECIPES if Run.is_run_folder(folder / name)]


@dataclasses.dataclass(frozen=True)
class Moment:
    """A recorded run as it stood `seconds` into its training."""

    metrics: Metrics
    diagnostics: Diagnostics
    seconds: float
    finished: bool


def at(run, seconds):
    """`run`'s metrics and probes up to `seconds` of its training time (its rows' `elapsed`)."""
    metrics, diagnostics = run.metrics(), read_diagnostics(run)
    batches = tuple(row for row in metrics.batches if row.elapsed <= seconds)
    epochs = tuple(row for row in metrics.epochs if row.elapsed <= seconds)
    shown = max([row.epoch for row in batches] + [float(row.epoch) for row in epochs], default=0.0)
    probes = tuple(probe for probe in diagnostics.probes if probe.epoch <= shown + 1e-9)
    last = max([row.elapsed for row in metrics.rows()], default=0.0)
    return Moment(
        Metrics(batches, epochs),
        Diagnostics(probes, diagnostics.nonfinite, diagnostics.errors),
        min(seconds, last),
        seconds >= last,
    )


def duration(run):
    """The recorded run's training seconds, validation included."""
    return max([row.elapsed for row in run.metrics().rows()], default=0.0)


def save(run, name, command, folder=None):
    """Copies a finished run's records (not its weights) into `folder/name`, with the command that made it."""
    target = pathlib.Path(folder or REPLAYS_DIR) / name
    target.mkdir(parents=True, exist_ok=True)
    for file_name in RECORD_FILES:
        shutil.copyfile(run.path / file_name, target / file_name)
    (target / "COMMAND").write_text(command + "\n")
    return target
