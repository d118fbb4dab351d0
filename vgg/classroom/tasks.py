"""Each page's "Try this" task (experiments/try-this.toml), and the teacher's rewrite of one: the file stays valid
TOML for every page, keeps the teacher's own comments and tables, and two tabs saving at once lose neither edit."""

import json
import pathlib
import tomllib

from vgg.classroom.experiments import TRY_THIS_FILE, experiments_dir
from vgg.core.errors import UserError
from vgg.core.files import write_bytes, write_text
from vgg.core.locks import file_lock

HEADER = (
    "# One short task per page, shown at the top of that page; a teacher may edit these (here or on the\n"
    "# page itself) or add pages. Keys are the page names as the sidebar shows them."
)
TABLE = "[pages]"
MAX_TASK_CHARACTERS = 400
LOCK = ".try-this.lock"  # Beside the file: held for each read-modify-write.
BROKEN_COPY = TRY_THIS_FILE + ".broken"  # A broken file's text, kept when a save starts the file afresh.


class TaskError(UserError):
    """A tasks file that is not valid TOML, or a task that cannot be saved; one sentence."""


def tasks_path(folder=None):
    return pathlib.Path(folder or experiments_dir()) / TRY_THIS_FILE


def try_this_tasks(folder=None):
    """{page name: task} from the tasks file, empty when there is none; a broken file raises TaskError."""
    path = tasks_path(folder)
    try:
        return _tasks_in(path.read_text(encoding="utf-8")) if path.exists() else {}
    except (OSError, UnicodeDecodeError):
        raise TaskError(f"The tasks file {TRY_THIS_FILE!r} cannot be read.") from None


def try_this(page_name, folder=None):
    """The "Try this" task of the page called `page_name`, or None when it has none; a broken file raises
    TaskError naming it."""
    return try_this_tasks(folder).get(page_name)


def save_try_this(page_name, task, folder=None):
    """Sets the page's task (an empty one removes it), keeping the other pages' tasks and the file's comments. A
    broken file is started afresh, its text kept beside it as try-this.toml.broken."""
    task = " ".join(task.split())  # One paragraph: the sidebar shows it as one.
    if len(task) > MAX_TASK_CHARACTERS:
        raise TaskError(f"A task must fit in {MAX_TASK_CHARACTERS} characters. Received: {len(task)} characters")
    path = tasks_path(folder)
    with file_lock(path.with_name(LOCK)):
        old = path.read_bytes() if path.exists() else b""
        try:
            text = old.decode()
            wanted = _tasks_in(text) | {page_name: task}
        except (UnicodeDecodeError, TaskError):
            write_bytes(path.with_name(BROKEN_COPY), old, what="a copy of the broken tasks file")
            text, wanted = "", {page_name: task}
        new = _new_text(text, page_name, task, {name: value for name, value in wanted.items() if value})
        write_text(path, new, what="the Try this tasks")


def _new_text(text, page_name, task, wanted):
    """The file's new text holding exactly the tasks `wanted`: `text` with one line changed when that is enough,
    else a fresh file; a task no valid UTF-8 TOML can hold raises TaskError."""
    new = _edited(text, page_name, task) if text else None
    if new is None or _tasks_or_none(new) != wanted:
        new = "\n".join([HEADER, TABLE, *(_line(name, value) for name, value in wanted.items())]) + "\n"
    try:
        new.encode()  # A lone surrogate, which a browser can send, has no UTF-8.
    except UnicodeEncodeError:
        new = None
    if new is None or _tasks_or_none(new) != wanted:
        raise TaskError(
            f"This task cannot be saved in the tasks file; remove its unusual characters. Received: {ascii(task)}"
        )
    return new


def _tasks_in(text):
    try:
        pages = tomllib.loads(text).get("pages", {})
    except tomllib.TOMLDecodeError:
        raise TaskError(f"The tasks file {TRY_THIS_FILE!r} is not valid TOML.") from None
    if not isinstance(pages, dict):
        return {}
    return {name: task.strip() for name, task in pages.items() if isinstance(task, str) and task.strip()}


def _tasks_or_none(text):
    try:
        return _tasks_in(text)
    except TaskError:
        return None


def _quoted(text):
    """`text` as a TOML basic string: JSON's escapes cover every control character but DEL, which TOML forbids."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _line(page_name, task):
    return f"{_quoted(page_name)} = {_quoted(task)}"


def _key(line):
    """The key of a one-line `key = "text"` pair, else None."""
    try:
        values = tomllib.loads(line)
    except tomllib.TOMLDecodeError:
        return None
    [(key, value)] = values.items() if len(values) == 1 else [(None, None)]
    return key if isinstance(value, str) else None


def _edited(text, page_name, task):
    """`text` with the [pages] table's line for `page_name` replaced, removed (an empty `task`) or added after the
    table's last task; every other line as it was. None when the file has no such table."""
    lines = text.splitlines()
    starts = [index for index, line in enumerate(lines) if line.strip().startswith("[")]
    table = next((index for index in starts if lines[index].split("#")[0].strip() == TABLE), None)
    if table is None:
        return None
    end = next((index for index in starts if index > table), len(lines))
    keys = {index: _key(lines[index]) for index in range(table + 1, end)}
    mine = [index for index, key in keys.items() if key == page_name]
    replacement = [_line(page_name, task)] if task else []
    if mine:
        lines[mine[0] : mine[0] + 1] = replacement
    else:
        last = max((index for index, key in keys.items() if key is not None), default=table)
        lines[last + 1 : last + 1] = replacement
    return "\n".join(lines) + "\n"
