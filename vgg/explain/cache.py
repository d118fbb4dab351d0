"""Analyses of a model file saved once and read back by every session: the evaluation behind Mistakes, feature
pictures, top images and the neighbour index.

Each is saved as an .npz named after the model file and its SHA-256, so a retrained model never shows another's:
beside a run's model, and in the data cache for the shipped models (assets/ is committed). Work asked for by many
sessions at the same moment is done once per process: the first computes it, the others wait, watch its progress
and read what it saved.
"""

import collections
import contextlib
import dataclasses
import hashlib
import json
import pathlib
import threading

import numpy as np

from vgg.core.errors import UserError
from vgg.core.files import replacing
from vgg.core.paths import ASSETS_DIR
from vgg.data.cifar10 import cache_dir
from vgg.explain.turns import ANALYSES, WAIT_SECONDS


@dataclasses.dataclass(frozen=True)
class CacheKey:
    """Which saved analysis belongs to a model file and what else it depends on, and where it lives."""

    model_sha256: str
    detail: str  # What it was computed on or for: a split's digest, a layer and count.
    file: pathlib.Path


_hashes = {}  # {resolved path: ((size, modification time), SHA-256)}: the file's last version only.
_hash_locks = collections.defaultdict(threading.Lock)
_hash_locks_lock = threading.Lock()


def file_sha256(path):
    """The SHA-256 of a file, remembered per (path, size, modification time), and computed under the path's own
    lock: thirty sessions opening a new 400 MB checkpoint at once hash it once, and other files meanwhile."""
    path = pathlib.Path(path).resolve()
    with _hash_locks_lock:
        lock = _hash_locks[str(path)]
    with lock:
        stat = path.stat()
        version = (stat.st_size, stat.st_mtime_ns)
        remembered = _hashes.get(str(path))
        if remembered is not None and remembered[0] == version:
            return remembered[1]
        digest = hashlib.sha256()
        with open(path, "rb") as file:
            for block in iter(lambda: file.read(2**20), b""):
                digest.update(block)
        _hashes[str(path)] = (version, digest.hexdigest())
        return digest.hexdigest()


def cache_key(model_path, kind, detail):
    """The key of a model file's saved `kind` (evaluation, pictures, ...) for `detail`; its file name keeps the
    first 16 characters of the detail."""
    model_path = pathlib.Path(model_path)
    model_sha256 = file_sha256(model_path)
    in_assets = model_path.resolve().is_relative_to(ASSETS_DIR.resolve())
    folder = cache_dir() / "evaluations" if in_assets else model_path.parent
    return CacheKey(model_sha256, detail, folder / f"{model_path.stem}.{kind}-{model_sha256[:16]}-{detail[:16]}.npz")


def split_digest(dataset, validation_size, seed, images, labels, indices=None):
    """A digest of the images an analysis ran on: the split's source, size and seed, the positions picked from it
    (if any), and the very images and labels."""
    digest = hashlib.sha256(json.dumps([dataset.source, validation_size, seed, list(dataset.class_names)]).encode())
    if indices is not None:
        digest.update(np.ascontiguousarray(indices, dtype=np.int64).tobytes())
    digest.update(np.ascontiguousarray(images).tobytes())
    digest.update(np.ascontiguousarray(labels).astype(np.int64).tobytes())
    return digest.hexdigest()


def save_arrays(key, kind, arrays, meta, what):
    """Writes named arrays and a JSON `meta` to key.file atomically, then removes the model file's saved `kind`
    from before it changed (another SHA-256)."""
    key.file.parent.mkdir(parents=True, exist_ok=True)
    with replacing(key.file, what) as temporary, open(temporary, "wb") as handle:
        np.savez(handle, meta=np.array(json.dumps(meta)), **arrays)
    stem = key.file.name.split(f".{kind}-")[0]
    for old in key.file.parent.glob(f"{stem}.{kind}-*.npz"):
        if not old.name.startswith(f"{stem}.{kind}-{key.model_sha256[:16]}-"):
            with contextlib.suppress(OSError):
                old.unlink()


def load_arrays(file, expected_meta, names):
    """(meta, {name: array}) saved in `file`, or None when there is none or its meta differs from `expected_meta`."""
    try:
        with np.load(file, allow_pickle=False) as saved:
            meta = json.loads(str(saved["meta"]))
            arrays = {name: saved[name] for name in names}
    except Exception:
        return None  # Missing, random bytes, a zip without those arrays, cut short: computed again by the caller.
    if not isinstance(meta, dict) or any(meta.get(name) != value for name, value in expected_meta.items()):
        return None
    return meta, arrays


def saved_seconds(meta):
    """How long the saved analysis took to compute, as its meta says (0 when it does not)."""
    seconds = meta.get("seconds")
    return float(seconds) if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) else 0.0


@dataclasses.dataclass
class _Job:
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    done: int = 0
    total: int = 0
    ahead: int = 0  # Jobs ahead of it in the server's line (vgg/explain/turns.py) while it waits there.

    def show(self, progress):
        """Tells a session waiting for this job where it stands: its place in the line, or how far it got."""
        if progress and self.ahead:
            progress(0, 0, ahead=self.ahead)
        elif progress and self.total:
            progress(self.done, self.total)


_jobs = {}
_jobs_lock = threading.Lock()


def computed_once(file, load, compute, save, progress=None, again="computed again next time"):
    """(value, None): `load()` when it returns one, else `compute(report)` saved by `save(value)`; (value, one
    sentence) when it could not be saved. While one session computes the value for `file`, the others wait and
    see its progress through `progress(done, total)`. Computing waits its turn in the server's line of analyses,
    one at a time, meanwhile calling `progress(0, 0, ahead=jobs ahead of it)`."""
    with _jobs_lock:
        job = _jobs.setdefault(str(file), _Job())
    while not job.lock.acquire(timeout=WAIT_SECONDS):
        job.show(progress)
    try:
        saved = load()
        if saved is not None:
            return saved, None

        def report(done, total):
            job.done, job.total = done, total
            if progress:
                progress(done, total)

        def waiting(ahead):
            job.ahead = ahead
            job.show(progress)

        with ANALYSES.turn(waiting):
            job.ahead = 0
            value = compute(report)
        try:
            save(value)
        except UserError as error:
            return value, f"{error} It is {again}."
        return value, None
    finally:
        job.done = job.total = job.ahead = 0
        job.lock.release()
