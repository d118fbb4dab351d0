"""The runs folder's disk budget and each student's share of it: what a new run will need, pruning old
checkpoints to make room, and a refusal in one sentence when pruning is not enough.

Pruning goes oldest run first and never touches a run that is queued, training or pinned. It takes what no one
needs to look at a run: a finished run's checkpoint (its final model, metrics and records stay, so every chart and
Predict still work), and a student's stopped, failed or interrupted run's checkpoint, so that one student's runs
cannot fill the disk for the class (resuming such a run starts it over; the teacher's own stopped runs keep theirs
for resuming). The analyses saved for a checkpoint go with it, and temporaries a killed writer left behind go
whenever the pruner passes a run that is not training.
"""

import contextlib
import glob
import math
import os
import pathlib

from vgg.core.errors import UserError
from vgg.core.estimate import analyses_bytes, parameter_count
from vgg.core.files import remove_orphaned_temporaries
from vgg.runs.archive import ARCHIVE_DIR
from vgg.runs.folder import Run, by_age, run_folders
from vgg.runs.snapshots import MAX_SNAPSHOT_BYTES
from vgg.runs.status import RESUMABLE_STATES, State

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
    """About how much disk a run with `config` fills: its checkpoint, final model and weight average, its
    float16 snapshots at epochs 0, 1, 2, 4, ... when the model is small enough to keep them
    (vgg/runs/snapshots.py), and the analyses it prepares for its pages once finished."""
    weights = 4 * parameter_count(config)
    snapshot = weights // 2
    snapshots = (math.ceil(math.log2(max(config.epochs, 1))) + 2) * snapshot if snapshot <= MAX_SNAPSHOT_BYTES else 0
    return WEIGHT_COPIES * weights + snapshots + analyses_bytes(config)


def all_runs(runs_dir):
    """Every run folder under `runs_dir`, archived ones included, oldest first."""
    runs_dir = pathlib.Path(runs_dir)
    archives = [path for path in (runs_dir / ARCHIVE_DIR).glob("*") if path.is_dir()]
    return by_age(Run(path) for parent in (runs_dir, *archives) for path in run_folders(parent))


def analyses_of(model_path):
    """The analyses saved beside a run's model file, which vgg/explain/cache.py names
    `<stem>.<kind>-<sha256>-<detail>.npz` (evaluation, top images, pictures, the neighbour index)."""
    model_path = pathlib.Path(model_path)
    return list(model_path.parent.glob(f"{glob.escape(model_path.stem)}.*-*.npz"))


def checkpoint_files(run):
    """A run's checkpoint and what goes with it: its record, the weight average a resume continues, its analyses."""
    return [run.checkpoint_path, run.checkpoint_state_path, run.weight_average_path, *analyses_of(run.checkpoint_path)]


def prunable_files(run):
    """The checkpoint files (checkpoint_files) pruning may take from `run`: a finished run's once its final model
    is saved, a student's run's once it stopped, failed or was interrupted; none from a run that is queued,
    training or pinned."""
    try:
        status = run.status()
    except UserError:
        return []
    if status.active or status.pinned or run.alive():
        return []
    finished = status.state == State.FINISHED and run.model_path.exists()
    if not (finished or (status.student and status.state in RESUMABLE_STATES)):
        return []
    return [path for path in checkpoint_files(run) if path.exists()]


def owned_runs(runs, is_mine):
    """The runs in `runs` that a student started and `is_mine(status)` says are this student's (the classroom
    knows who is who: a name's secret, its browser, its address)."""
    mine = []
    for run in runs:
        with contextlib.suppress(UserError):
            status = run.recorded_status()
            if status.student and is_mine(status):
                mine.append(run)
    return mine


def make_room(runs_dir, needed, budget_bytes, is_mine=None, class_size=None):
    """Makes room for a start that needs `needed` more bytes: for a student's (`class_size` and `is_mine` given),
    within their share of the budget first (the budget over the class's size), pruning their own runs; then within
    `budget_bytes`, pruning anyone's. Returns the names of the runs pruned; raises DiskBudgetError in one sentence
    when even that is not enough."""
    runs_dir = pathlib.Path(runs_dir)
    runs = all_runs(runs_dir)
    for run in runs:
        if not run.alive():
            remove_orphaned_temporaries(run.path)
    pruned = []
    if class_size is not None:
        share = budget_bytes / class_size
        mine = [run for run in owned_runs(runs, is_mine) if run.path.parent == runs_dir]  # Archived: another class's.
        used = _prune(mine, sum(folder_bytes(run.path) for run in mine), needed, share, pruned)
        if used + needed > share:
            raise DiskBudgetError(
                f"Your runs hold {used / 1e6:,.0f} MB of your {share / 1e6:,.0f} MB share of the disk (the class's "
                f"{budget_bytes / 1e9:g} GB budget over {class_size} students) and this run needs about "
                f"{needed / 1e6:,.0f} MB more; ask the teacher to delete or archive some of your runs."
            )
    used = _prune(runs, folder_bytes(runs_dir), needed, budget_bytes, pruned)
    if used + needed > budget_bytes:
        raise DiskBudgetError(
            f"The runs folder holds {used / 1e9:.2f} GB of its {budget_bytes / 1e9:.2f} GB budget and this run needs "
            f"about {needed / 1e6:,.0f} MB more; the teacher can delete or archive runs, or raise the budget."
        )
    return pruned


def _prune(runs, used, needed, limit, pruned):
    """Prunes `runs` in their order until `needed` more bytes fit in `limit` with `used` taken; appends the names
    of the runs pruned to `pruned` and returns the bytes used then."""
    for run in runs:
        if used + needed <= limit:
            break
        files = prunable_files(run)
        for path in files:
            with contextlib.suppress(OSError):
                size = path.stat().st_size
                path.unlink()
                used -= size
        if files:
            pruned.append(run.name)
            with contextlib.suppress(UserError):  # Said on the run, as its Resume now starts it over.
                run.update_status(
                    condition=lambda now: now.state not in (State.FINISHED, State.QUEUED),
                    error="Its checkpoint was removed to make room on the disk; resuming starts it over.",
                )
    return used
