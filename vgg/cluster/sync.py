"""A run folder copied file by file from the machine that trains it to the head's runs folder, with no shared disk.

The worker answers `changes(folder, known)` with what changed since `known` (the head's record of what it has):
the new complete lines of a file that only grows (the JSON-lines rows, the log), the whole of any other file that
changed (replaced atomically by the trainer, so read whole). The head applies them with `apply`: appends or
atomic replaces, so the Train page's followers (vgg/runs/jsonl.py) see appended rows as rows and a rewrite as one.
"""

import os
import pathlib

from vgg.core.files import write_bytes

# Files only ever appended to while a run trains; anything else is replaced whole when it changes.
GROWING_SUFFIXES = (".jsonl", ".txt")
# What never travels: locks and the stop request (each side has its own) and half-written (hidden) temporary files.
SKIPPED_PREFIXES = (".",)
SKIPPED_NAMES = ("stop-requested",)
# Sent before the files they describe, and applied after them: a checkpoint record never points past its checkpoint.
LAST_NAMES = ("checkpoint.json", "status.json")


def _files(folder):
    """Every file under `folder` that travels, as (relative path, stat)."""
    found = []
    for directory, subdirectories, names in os.walk(folder):
        subdirectories[:] = [name for name in subdirectories if not name.startswith(SKIPPED_PREFIXES)]
        for name in names:
            if name.startswith(SKIPPED_PREFIXES) or name in SKIPPED_NAMES:
                continue
            path = pathlib.Path(directory) / name
            try:
                found.append((path.relative_to(folder).as_posix(), path.stat()))
            except FileNotFoundError:
                continue  # Replaced between the listing and the look.
    return found


def changes(folder, known):
    """(changes, known): [(relative path, offset or None for a whole file, bytes)] since `known`, {path: (inode,
    size, mtime_ns)} of what the head has; an inode of None means "the head's copy, append after `size`"."""
    folder, known, found = pathlib.Path(folder), dict(known), []
    # Records first: a checkpoint.json read before its checkpoint is at worst one epoch behind it, never ahead.
    for relative, stat in sorted(_files(folder), key=lambda entry: entry[0].rpartition("/")[2] not in LAST_NAMES):
        inode, size, mtime = known.get(relative, (-1, -1, -1))
        if (inode, size, mtime) == (stat.st_ino, stat.st_size, stat.st_mtime_ns):
            continue
        growing = relative.endswith(GROWING_SUFFIXES)
        appends = growing and inode in (stat.st_ino, None) and 0 <= size <= stat.st_size
        start = size if appends else 0
        try:
            with open(folder / relative, "rb") as file:
                file.seek(start)
                data = file.read()
        except FileNotFoundError:
            continue
        if growing:
            data = data[: data.rfind(b"\n") + 1]  # Complete lines only; the rest travels with the next look.
            if appends and not data:
                continue
        found.append((relative, start if appends else None, data))
        end = start + len(data) if growing else stat.st_size
        known[relative] = (stat.st_ino, end, stat.st_mtime_ns if end == stat.st_size else -1)
    records = [change for change in found if change[0].rpartition("/")[2] in LAST_NAMES]
    return [change for change in found if change not in records] + records, known


def apply(folder, found):
    """Writes `found` (from `changes`) into `folder`: appended rows at their offset, whole files atomically unless
    unchanged."""
    folder = pathlib.Path(folder)
    for relative, offset, data in found:
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if offset is None:
            if not _holds(path, data):
                write_bytes(path, data)
            continue
        with open(path, "ab") as file:
            file.truncate(offset)  # A row half-copied before a relay was lost is written again, never twice.
            file.write(data)


def _holds(path, data):
    """Whether `path` holds `data` already: a relay that takes over after a restart is sent every whole file again,
    and an unchanged one keeps its time (lists order runs by when their settings were written)."""
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:
        return False


def head_known(folder):
    """What the head already has of a run's growing files, for a relay that takes over after a restart."""
    return {
        relative: (None, stat.st_size, -1)
        for relative, stat in _files(pathlib.Path(folder))
        if relative.endswith(GROWING_SUFFIXES)
    }
