"""Names that belong to the browser that took them: in class mode a student's name comes with a secret the server
issued, kept in the page's address beside the name (`?me=Ada~<secret>`), and only that secret acts as the name.

The claims live in the runs folder (`class_names.json`, the hash of each secret, never the secret), so they
outlive a server restart; the teacher releases one name, or all of them for the next class. Runs record their
starter's name with the same hash (vgg/runs/status.py), and the browser they came from, so per-student limits
count a person however many names they invent.
"""

import dataclasses
import datetime
import hashlib
import hmac
import pathlib
import re
import secrets

from vgg.classroom.policy import ClassroomError, clean_name
from vgg.core import locks
from vgg.core.files import DamagedFileError, read_json_object, write_json
from vgg.runs.folder import make_runs_dir

NAMES_FILE = "class_names.json"
NAMES_LOCK = ".class_names.lock"
SEPARATOR = "~"  # Between the name and its secret in the address.
SECRET_BYTES = 12  # 16 URL-safe characters: beyond guessing, short enough to keep in an address.
SECRET_PATTERN = re.compile(r"[A-Za-z0-9_-]{16}")


class NameTakenError(ClassroomError):
    """A name another browser holds; one sentence."""


@dataclasses.dataclass(frozen=True)
class Student:
    """Who started a run, as the server knows them: the name, the hash of the name's secret, and the browser and
    network address it came from (None where Streamlit gives none, as on the server's own machine)."""

    name: str
    key: str | None = None
    browser: str | None = None
    address: str | None = None


def secret_hash(secret):
    return hashlib.sha256(str(secret).encode()).hexdigest()


def parse(text):
    """(name, secret or None) from the address's `me` text; the name cleaned (UserError when it is no name)."""
    name, separator, secret = str(text or "").rpartition(SEPARATOR)
    if not separator or not SECRET_PATTERN.fullmatch(secret):
        name, secret = str(text or ""), None
    return clean_name(name, "Your name"), secret


def address_text(name, secret):
    return f"{name}{SEPARATOR}{secret}"


def claim(runs_dir, name):
    """Gives `name` to the caller and returns its new secret; NameTakenError when another browser holds it."""
    with _names_lock(runs_dir):
        claims = _claims(runs_dir)
        if name in claims:
            raise NameTakenError(f"The name {name!r} is in use in this class: choose another or ask the teacher.")
        secret = secrets.token_urlsafe(SECRET_BYTES)
        claimed = datetime.datetime.now().isoformat(timespec="seconds")
        _write(runs_dir, claims | {name: {"key": secret_hash(secret), "claimed": claimed}})
    return secret


def owns(runs_dir, name, secret):
    """Whether `secret` is the one issued for `name`, compared in constant time."""
    entry = _claims(runs_dir).get(name)
    return entry is not None and secret is not None and hmac.compare_digest(entry["key"], secret_hash(secret))


def claimed_names(runs_dir):
    return sorted(_claims(runs_dir))


def release(runs_dir, name):
    """Frees `name` for the next browser that types it: the teacher's action, when a student lost the address."""
    with _names_lock(runs_dir):
        claims = _claims(runs_dir)
        claims.pop(name, None)
        _write(runs_dir, claims)


def release_all(runs_dir):
    with _names_lock(runs_dir):
        _write(runs_dir, {})


def _names_lock(runs_dir):
    """The lock every change of the claims holds; the runs folder is made first, since a name can be typed before
    any run exists."""
    return locks.file_lock(make_runs_dir(runs_dir) / NAMES_LOCK)


def _claims(runs_dir):
    """{name: {"key": hash of its secret, "claimed": ISO time}}; a damaged file holds no claims (the teacher's
    Reset writes a fresh one)."""
    try:
        claims = read_json_object(pathlib.Path(runs_dir) / NAMES_FILE, NAMES_FILE, {})
    except DamagedFileError:
        return {}
    return {name: entry for name, entry in claims.items() if isinstance(entry, dict) and "key" in entry}


def _write(runs_dir, claims):
    write_json(pathlib.Path(runs_dir) / NAMES_FILE, claims, "the class's names")
