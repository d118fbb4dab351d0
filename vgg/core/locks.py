"""File locks: the machine's training slot, a run's liveness, and the locks around read-modify-writes.

A run is alive exactly while its training process holds the run's lock (`<run>/.training.lock`).
The kernel drops a lock when its process dies however it dies, so, unlike a pid, which the system
reuses, a lock can never make a dead run look alive.
"""

import contextlib
import fcntl
import os

RUN_LOCK = ".training.lock"  # In a run's folder: held by its training process for its whole life.
SLOT_LOCK = ".slot-{}.lock"  # In the runs folder, one per training slot: held by the process that trains in it.
LAUNCH_LOCK = ".launch.lock"  # In the runs folder: makes "is anything training? then start" one step.
INHERITED_LOCK_VARIABLE = "VGG_RUN_LOCK_FD"  # The launcher hands its child the run's lock as this descriptor,
INHERITED_SLOT_VARIABLE = "VGG_SLOT_LOCK_FD"  # and the slot's lock as this one.


@contextlib.contextmanager
def file_lock(path, blocking=True):
    """Holds an exclusive lock on `path` for the block; yields False at once when `blocking` is off and
    someone else holds it. Its folder must exist (FileNotFoundError otherwise): a lock never re-creates a run
    folder that was deleted or archived."""
    with open(path, "a") as file:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(file, fcntl.LOCK_UN)


def is_held(path):
    """Whether some open file holds the lock on `path` (this process's own other descriptors included)."""
    try:
        file = open(path)  # noqa: SIM115  (closed below; the lock test needs the descriptor itself)
    except OSError:
        return False
    with file:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(file, fcntl.LOCK_UN)
        return False


def acquire(path):
    """Opens and locks `path` without waiting; returns the descriptor to keep, or None when it is held. Its folder
    must exist, as for file_lock."""
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        return None
    return descriptor


def inherited(path, variable=INHERITED_LOCK_VARIABLE):
    """The descriptor of `path`'s lock that a launcher handed this process in `variable`, if it did: the same
    file, already locked, so the run never looks dead between the launch and the training process's start."""
    value = os.environ.get(variable, "")
    if not value.isdigit():
        return None
    descriptor = int(value)
    try:
        same_file = os.path.samestat(os.fstat(descriptor), os.stat(path))
    except OSError:
        return None
    return descriptor if same_file else None
