"""The runs folder's disk budget: what a new run will need, pruning old checkpoints to make room, and a
refusal in one sentence when pruning is not enough.

Pruning takes only what no one needs to look at a run: the checkpoint and weight average of finished runs,
oldest first (their final model, metrics and records stay, so every chart and Predict still work). A stopped
run's checkpoint is what resuming needs, so it is never pruned; the teacher deletes or archives such runs.
"""

import contextlib
import math
import os
import pathlib

from vgg.core.errors import UserError
from vgg.core.estimate import parameter_count
from vgg.runs.archive import ARCHIVE_DIR
from vgg.runs.folder import Run, run_folders
from vgg.runs.snapshots import MAX_SNAPSHOT_BYTES
from vgg.runs.status import State

# A checkpoint holds the weights and up to two optimizer slots per weight (Adam); the final model and the
# weight average hold one copy each: about five float32 copies of the weights in all.
WEIGHT_COPIES = 5


class DiskBudgetError(UserError):
    """A start that would take the runs folder past its budget even after pruning; one sentence."""


def folder_bytes(path):
    """The bytes of every file under `path` (0 when it does not exist)."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


def bytes_needed(config):
    """About how much disk a run with `config` fills: its checkpoint, final model and weight average, and its
    float16 snapshots at epochs 0, 1, 2, 4, ... when the model is small enough to keep them
    (vgg/runs/snapshots.py)."""
    weights = 4 * parameter_count(config)
    snapshot = weights // 2
    snapshots = (math.ceil(math.log2(max(config.epochs, 1))) + 2) * snapshot if snapshot <= MAX_SNAPSHOT_BYTES else 0
    return WEIGHT_COPIES * weights + snapshots


def all_runs(runs_dir):
    """Every run folder under `runs_dir`, archived ones included, oldest first."""
    runs_dir = pathlib.Path(runs_dir)
    archives = [path for path in (runs_dir / ARCHIVE_DIR).glob("*") if path.is_dir()]
    runs = [Run(path) for parent in (runs_dir, *archives) for path in run_folders(parent)]
    return sorted(runs, key=lambda run: run.config_path.stat().st_mtime)


def prunable_files(run):
    """A finished run's files that only resuming would read; none for any other run."""
    with contextlib.suppress(UserError):
        if run.status().state == State.FINISHED and run.model_path.exists():
            return [path for path in (run.checkpoint_path, run.weight_average_path) if path.exists()]
    return []


def make_room(runs_dir, needed, budget_bytes):
    """Prunes finished runs' checkpoints, oldest first, until `needed` more bytes fit in `budget_bytes`;
    returns the names of the runs pruned. Raises DiskBudgetError when even that is not enough."""
    used = folder_bytes(runs_dir)
    pruned = []
    for run in all_runs(runs_dir):
        if used + needed <= budget_bytes:
            break
        files = prunable_files(run)
        for path in files:
            with contextlib.suppress(OSError):
                size = path.stat().st_size
                path.unlink()
                used -= size
        if files:
            pruned.append(run.name)
    if used + needed > budget_bytes:
        raise DiskBudgetError(
            f"The runs folder holds {used / 1e9:.2f} GB of its {budget_bytes / 1e9:.2f} GB budget and this run needs "
            f"about {needed / 1e6:,.0f} MB more; the teacher can delete or archive runs, or raise the budget."
        )
    return pruned
