"""Who may do what in a class: names on runs, the teacher's password, and the one check every control asks.

Without a teacher password the app is one person's tool on their own machine and every control is open. With
one (VGG_TEACHER_PASSWORD, set when the server starts), it is in class mode: students stop and resume their own
runs only, and whoever unlocks the teacher's controls may stop, resume and delete any run.
"""

import hmac
import os
import shutil

from vgg.errors import UserError

PASSWORD_VARIABLE = "VGG_TEACHER_PASSWORD"
MAX_NAME_LENGTH = 40


class ClassroomError(UserError):
    """An action a student may not take on someone else's run; one sentence."""


def teacher_password():
    """The teacher's password, or None when the server runs for one person (no class mode)."""
    return os.environ.get(PASSWORD_VARIABLE) or None


def class_mode():
    return teacher_password() is not None


def is_teacher_password(attempt):
    """Whether `attempt` is the teacher's password, compared in constant time."""
    password = teacher_password()
    return password is not None and hmac.compare_digest(str(attempt).encode(), password.encode())


def clean_name(text, what="A name"):
    """A person's or a run's name as typed, trimmed; None when empty. Refuses what no list can show."""
    text = " ".join(str(text or "").split())
    if not text:
        return None
    if len(text) > MAX_NAME_LENGTH or not text.isprintable():
        raise UserError(f"{what} has at most {MAX_NAME_LENGTH} printable characters. Received: {text[:60]!r}")
    return text


def may_control(status, user, teacher):
    """Whether `user` (a name, or None) may stop or resume a run with `status`: anyone outside class mode, the
    teacher always, a student only their own run."""
    return not class_mode() or teacher or (user is not None and status.owner == user)


def check_control(run, status, user, teacher):
    """Refuses, in one sentence, a stop or resume that `may_control` does not allow (a control forced past
    the page, for one)."""
    if not may_control(status, user, teacher):
        owner = status.owner or "nobody named"
        raise ClassroomError(f"Run {status.title or run.name!r} belongs to {owner}; only they or the teacher can "
                               "stop or resume it.")


def delete_run(run, teacher):
    """Deletes a run's folder: the teacher's action (anyone's outside class mode), never a run that trains."""
    if class_mode() and not teacher:
        raise ClassroomError("Only the teacher can delete runs.")
    if run.alive():
        raise UserError(f"Run {run.name!r} is training; stop it before deleting it.")
    shutil.rmtree(run.path)
