"""Work saved to a file and done once per process however many sessions ask for it at the same moment: the
first computes it, the others wait, watch its progress and read what it saved."""

import dataclasses
import threading

from vgg.core.errors import UserError


@dataclasses.dataclass
class _Job:
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    done: int = 0
    total: int = 0


_jobs = {}
_jobs_lock = threading.Lock()


def computed_once(file, load, compute, save, progress=None, again="computed again next time"):
    """(value, None): `load()` when it returns one, else `compute(report)` saved by `save(value)`; (value, one
    sentence) when it could not be saved. While one session computes the value for `file`, the others wait and
    see its progress through `progress(done, total)`."""
    with _jobs_lock:
        job = _jobs.setdefault(str(file), _Job())
    while not job.lock.acquire(timeout=0.25):
        if progress and job.total:
            progress(job.done, job.total)
    try:
        saved = load()
        if saved is not None:
            return saved, None

        def report(done, total):
            job.done, job.total = done, total
            if progress:
                progress(done, total)

        value = compute(report)
        try:
            save(value)
        except UserError as error:
            return value, f"{error} It is {again}."
        return value, None
    finally:
        job.done = job.total = 0
        job.lock.release()
