"""Follows JSON-lines files that a run appends to (metrics.jsonl, diagnostics.jsonl): each file is parsed once,
and a later read parses only the lines appended since, because every watching browser redraws its charts on the
two cores that train."""

import os
import threading


class JsonlFollower:
    """Reads a file's records: `extend(records, data, run_name)` adds the complete lines of `data` (bytes) to
    `records` and returns the result; `empty()` is the records of an empty file."""

    TAIL_BYTES = 64  # Compared on each read: a file rewritten in place to an equal or larger size is noticed.

    def __init__(self, extend, empty):
        self._extend = extend
        self._empty = empty
        self._lock = threading.Lock()
        self._files = {}  # path -> (inode, bytes parsed, their last TAIL_BYTES, records)

    def read(self, path, run_name):
        key = str(path)
        try:
            with open(path, "rb") as file, self._lock:
                status = os.fstat(file.fileno())
                inode, offset, tail, records = self._files.get(key, (None, 0, b"", self._empty()))
                file.seek(max(0, offset - len(tail)))
                # A resume rewrites the file (a new inode); a shorter or changed one was cut or edited.
                if inode != status.st_ino or status.st_size < offset or file.read(len(tail)) != tail:
                    offset, records = 0, self._empty()
                file.seek(offset)
                appended = file.read(status.st_size - offset)
                complete_end = appended.rfind(b"\n") + 1
                records = self._extend(records, appended[:complete_end], run_name)
                offset += complete_end
                file.seek(max(0, offset - self.TAIL_BYTES))
                self._files[key] = (status.st_ino, offset, file.read(min(offset, self.TAIL_BYTES)), records)
            # A last line without its newline is still being written, or was cut short by a crash.
            return self._extend(records, appended[complete_end:], run_name)
        except OSError:
            with self._lock:
                self._files.pop(key, None)
            return self._empty()
