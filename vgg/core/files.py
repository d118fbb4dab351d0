"""The one atomic writer, and JSON read back with its type checked.

Every file the project saves (run files, checkpoints, weight averages, model cards, exports) is
written beside its final name and renamed over it, so a reader sees the old file or the new one,
never half of one, and a failed write leaves what was saved before.
"""

import contextlib
import json
import os
import pathlib
import re
import threading
import traceback

from vgg.core.errors import UserError


class WriteError(UserError):
    """A file that could not be written; what was saved before is kept."""


class DamagedFileError(UserError):
    """A file that is valid JSON of the wrong shape (`null`, `[]`, `7` where a record belongs)."""


def temporary_path(path):
    """A hidden name beside `path` with the same suffix (Keras and NumPy choose the format by it),
    unique to this process and thread so that concurrent writers never share one."""
    path = pathlib.Path(path)
    return path.with_name(f".{path.stem}.{os.getpid()}-{threading.get_ident()}.tmp{path.suffix}")


# temporary_path's names: the writer's process id is how an orphan (its writer killed mid-write) is told apart.
TEMPORARY_NAME = re.compile(r"^\..+\.(\d+)-\d+\.tmp(\.[^.]*)?$")


def remove_orphaned_temporaries(folder):
    """Removes the temporaries in `folder` whose writing process is gone (killed mid-save, as by SIGKILL or the
    out-of-memory killer); returns the bytes freed. A live writer's temporary stays."""
    freed = 0
    with contextlib.suppress(OSError):
        for path in pathlib.Path(folder).iterdir():
            match = TEMPORARY_NAME.match(path.name)
            if match and not _process_lives(int(match.group(1))):
                with contextlib.suppress(OSError):
                    size = path.lstat().st_size
                    path.unlink()
                    freed += size
    return freed


def _process_lives(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # Another user's process (PermissionError) is alive.
    return True


@contextlib.contextmanager
def replacing(path, what=None):
    """Yields a temporary path for the caller to write `path`'s new content to. When the block ends
    normally the file is synced to disk and renamed over `path`; on any failure it is removed, and
    an OSError (a full disk, a read-only folder) becomes one WriteError sentence."""
    path = pathlib.Path(path)
    temporary = temporary_path(path)
    try:
        yield temporary
        with open(temporary, "rb+") as file:
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException as error:
        # A half-written file would keep a full disk full, and then not even the failure could be recorded. The
        # writer's ended frames can hold it open (a zip file, a Keras save), keeping its space after the unlink:
        # their locals are dropped.
        with contextlib.suppress(OSError):
            temporary.unlink()
        if isinstance(error, OSError):
            traceback.clear_frames(error.__traceback__)
            raise WriteError(
                f"Could not write {what or path.name} ({error.strerror or error}); what was saved before is kept."
            ) from None
        raise


def write_bytes(path, data, what=None):
    with replacing(path, what) as temporary, open(temporary, "wb") as file:
        file.write(data)


def write_text(path, text, what=None):
    write_bytes(path, text.encode(), what)


def write_json(path, value, what=None):
    write_text(path, json.dumps(value, indent=2) + "\n", what)


def file_version(path):
    """The modification time of `path`, or None when it is gone (its run deleted or archived while a page draws)."""
    try:
        return os.path.getmtime(path)
    except OSError:
        return None


def file_stamp(path):
    """(size, modification time in ns) of `path`, or (0, 0) when it is gone: it changes with every line a run
    appends, so what is cached under it is read anew exactly when the file changed."""
    try:
        stat = os.stat(path)
    except OSError:
        return (0, 0)
    return (stat.st_size, stat.st_mtime_ns)


def read_json(path, default=None):
    """The JSON value in `path`, or `default` when the file is missing or not JSON (cut short by a crash)."""
    try:
        with open(path) as file:
            return json.load(file)
    except (OSError, ValueError):
        return default


def read_json_object(path, what, default=None):
    """The JSON object in `path`, or `default` when there is no file. A file that is not JSON (cut short,
    overwritten) or holds another type raises DamagedFileError naming `what`."""
    try:
        with open(path) as file:
            value = json.load(file)
    except FileNotFoundError:
        return default
    except (OSError, ValueError):
        raise DamagedFileError(f"{what} is not readable JSON.") from None
    if not isinstance(value, dict):
        raise DamagedFileError(f"{what} holds {json_kind(value)} instead of a record.")
    return value


def json_kind(value):
    """How JSON names the type of `value`, for a sentence about a damaged file."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    return {str: "a string", list: "a list", dict: "an object"}.get(type(value), type(value).__name__)
