"""Reset for the next class: every run that is not queued or training moves out of the lists in one step,
into `<runs>/.archive/<time>/`, and comes back in one step. Archived runs stay on disk within the budget
(vgg/runs/disk.py prunes their checkpoints like any finished run's)."""

import contextlib
import datetime
import pathlib

from vgg.core import locks
from vgg.core.errors import UserError
from vgg.runs.folder import list_runs, run_folders

ARCHIVE_DIR = ".archive"  # In the runs folder; list_runs skips it, as a dot folder is no run's name.


class ArchiveError(UserError):
    """An archive that cannot be made or restored; one sentence."""


def archive_runs(runs_dir):
    """Moves every run that is not active into a new archive; returns (archive name, runs moved, runs kept). Under
    the launch lock, so no run starts between its check and its move."""
    runs_dir = pathlib.Path(runs_dir)
    name = datetime.datetime.now().strftime("%Y-%m-%d %H.%M.%S")
    if not runs_dir.is_dir():
        return name, [], []
    with locks.file_lock(runs_dir / locks.LAUNCH_LOCK):
        moved, kept = _archive(list_runs(runs_dir), runs_dir / ARCHIVE_DIR / name)
    return name, moved, kept


def _archive(runs, target):
    moved, kept = [], []
    for run in runs:
        active = False
        with contextlib.suppress(UserError):  # A damaged run is put away too: it cannot be training.
            active = run.status().active or run.alive()
        if active:
            kept.append(run.name)
            continue
        target.mkdir(parents=True, exist_ok=True)
        try:
            run.path.rename(target / run.name)
        except OSError as error:
            raise ArchiveError(f"Run {run.name!r} could not be archived ({error.strerror}); the others are.") from None
        moved.append(run.name)
    return moved, kept


def archives(runs_dir):
    """{archive name: number of runs in it}, newest first."""
    folder = pathlib.Path(runs_dir) / ARCHIVE_DIR
    if not folder.is_dir():
        return {}
    found = {path.name: len(run_folders(path)) for path in folder.iterdir() if path.is_dir()}
    return dict(sorted(found.items(), reverse=True))


def restore(runs_dir, name):
    """Moves the runs of archive `name` back into the lists; returns the runs restored. A run whose name was
    taken since stays in the archive, and the sentence says so."""
    runs_dir = pathlib.Path(runs_dir)
    if name not in archives(runs_dir):
        raise ArchiveError(f"There is no archive named {name!r}.")
    folder = runs_dir / ARCHIVE_DIR / name
    restored, clashes = [], []
    with locks.file_lock(runs_dir / locks.LAUNCH_LOCK):
        for path in sorted(run_folders(folder)):
            if (runs_dir / path.name).exists():
                clashes.append(path.name)
                continue
            try:
                path.rename(runs_dir / path.name)
            except OSError as error:
                raise ArchiveError(
                    f"Run {path.name!r} could not be restored ({error.strerror}); {len(restored)} run(s) were."
                ) from None
            restored.append(path.name)
    if clashes:
        raise ArchiveError(
            f"Restored {len(restored)} run(s); {', '.join(clashes)} stayed archived, as runs of the "
            "same name exist now."
        )
    with contextlib.suppress(OSError):
        folder.rmdir()
    return restored
