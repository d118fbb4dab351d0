""" "Follow me": the teacher's current view (a page and its link parameters), shared with every student's browser
while the teacher leads the class.

The record is one small file in the runs folder, written by the teacher's browser whenever its view changes and
read by every student's browser every few seconds. A reader stats the file first and parses it only when it
changed, so 30 watching students cost the server a stat each per tick.
"""

import dataclasses
import os
import pathlib

from vgg.core.files import read_json, write_json

FOLLOW_FILE = "class_follow.json"  # In the runs folder, beside the class's limits.


@dataclasses.dataclass(frozen=True)
class View:
    """What a browser shows: a page's path (`inside`) and its link parameters ({"layer": "block3_conv1"})."""

    page: str
    params: dict = dataclasses.field(default_factory=dict)

    def to_dict(self):
        return {"page": self.page, "params": dict(self.params)}

    @classmethod
    def from_dict(cls, values):
        """The view `values` names, or None when it is not a page with text parameters."""
        page, params = values.get("page"), values.get("params", {})
        if not isinstance(page, str) or not isinstance(params, dict):
            return None
        return cls(page, {str(name): str(text) for name, text in params.items()})


@dataclasses.dataclass(frozen=True)
class FollowRecord:
    """Whether the teacher leads, the view students follow, and `seq`, counted up at every change, so a student's
    browser moves once per change and stays free between changes."""

    on: bool = False
    view: View | None = None
    seq: int = 0

    def to_dict(self):
        return {"on": self.on, "view": self.view and self.view.to_dict(), "seq": self.seq}

    @classmethod
    def from_dict(cls, values):
        """The record `values` holds; anything damaged reads as the class released."""
        if not isinstance(values, dict):
            return cls()
        view = View.from_dict(values["view"]) if isinstance(values.get("view"), dict) else None
        seq = values.get("seq")
        seq = seq if isinstance(seq, int) and not isinstance(seq, bool) else 0
        return cls(values.get("on") is True and view is not None, view, seq)


# {file: ((inode, modification time), record)}: the atomic writer replaces the file, so either changes on a write.
_read = {}


def follow_path(runs_dir):
    return pathlib.Path(runs_dir) / FOLLOW_FILE


def read_follow(runs_dir):
    """The class's FollowRecord: a stat of the file, parsed again only after a write. No file: released."""
    path = follow_path(runs_dir)
    try:
        stat = os.stat(path)
    except OSError:
        return FollowRecord()
    stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
    known = _read.get(path)
    if known is not None and known[0] == stamp:
        return known[1]
    record = FollowRecord.from_dict(read_json(path))
    _read[path] = (stamp, record)
    return record


def _write(runs_dir, record):
    path = follow_path(runs_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, record.to_dict(), "the teacher's shared view")
    return record


def lead(runs_dir, view):
    """Turns "Follow me" on at the teacher's `view`: every following student moves there."""
    return _write(runs_dir, FollowRecord(True, view, read_follow(runs_dir).seq + 1))


def release(runs_dir):
    """Gives the students their own controls back; their screens stay where they are."""
    record = read_follow(runs_dir)
    return _write(runs_dir, FollowRecord(False, record.view, record.seq + 1)) if record.on else record


def publish(runs_dir, view):
    """Shares the teacher's `view` while the class follows; writes only when it changed, so a teacher's rerun
    that changed nothing moves nobody. Returns the record now in force."""
    record = read_follow(runs_dir)
    if not record.on or record.view == view:
        return record
    return _write(runs_dir, FollowRecord(True, view, record.seq + 1))


def move_for(record, followed_seq, opted_out, here):
    """The view a student's browser at view `here` must move to, or None: only while the teacher leads, only for
    a student who has not opted out, and only once per change (`followed_seq` is the last change it followed)."""
    if not record.on or opted_out or record.seq == followed_seq or record.view == here:
        return None
    return record.view
