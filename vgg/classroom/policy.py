"""Who may do what in a class: names on runs, the teacher's password, and the one check every control asks.

Without a teacher password the app is one person's tool on their own machine and every control is open. With
one (VGG_TEACHER_PASSWORD, set when the server starts), it is in class mode: students stop and resume their own
runs only, and whoever unlocks the teacher's controls may stop, resume and delete any run.
"""

import contextlib
import dataclasses
import hmac
import math
import os
import pathlib
import shutil

from vgg.core import locks
from vgg.core.errors import UserError
from vgg.core.estimate import estimate, training_flops_per_image
from vgg.core.files import DamagedFileError, read_json_object, write_json
from vgg.core.paths import PASSWORD_VARIABLE
from vgg.runs.status import images_per_epoch

MAX_NAME_LENGTH = 40


LIMITS_FILE = "class_limits.json"  # In the runs folder, so the teacher's limits outlive a server restart.


class ClassroomError(UserError):
    """An action a student may not take on someone else's run; one sentence."""


@dataclasses.dataclass(frozen=True)
class ClassLimits:
    """What the teacher allows each student in class mode; the defaults fit a 45-minute lesson on one machine."""

    runs_per_student: int = 1  # Queued or training at once: 30 students share one slot fairly.
    max_estimated_minutes: float = 15.0  # One run's estimated training time here (epochs x images x model cost).
    max_training_minutes: float = 20.0  # A student's run is stopped cleanly after this much training in all.
    disk_budget_gb: float = 5.0  # The runs folder's size; old checkpoints are pruned, then starts refused.
    class_size: int = 30  # Each student's share of the disk budget is the budget over this many students.

    RANGES = {
        "runs_per_student": (1, 20),
        "max_estimated_minutes": (1.0, 600.0),
        "max_training_minutes": (1.0, 600.0),
        "disk_budget_gb": (0.1, 1000.0),
        "class_size": (1, 200),
    }

    def checked(self):
        """Itself, when every limit is in its range; else ClassroomError naming the limit."""
        for name, (low, high) in self.RANGES.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
                raise ClassroomError(f"{name.replace('_', ' ')} must be between {low} and {high}. Received: {value!r}")
        return self


def load_limits(runs_dir):
    """The teacher's limits for `runs_dir`, or the defaults when none are saved or the file is damaged."""
    try:
        values = read_json_object(pathlib.Path(runs_dir) / LIMITS_FILE, LIMITS_FILE, {})
        known = {field.name for field in dataclasses.fields(ClassLimits)}
        return ClassLimits(**{name: value for name, value in values.items() if name in known}).checked()
    except (DamagedFileError, ClassroomError, TypeError):
        return ClassLimits()


def save_limits(runs_dir, limits):
    write_json(pathlib.Path(runs_dir) / LIMITS_FILE, dataclasses.asdict(limits.checked()), "the class's limits")


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
    """Whether `user` (a vgg.classroom.names.Student, or None) may stop or resume a run with `status`: anyone
    outside class mode, the teacher always, a student only a run started with their name's secret."""
    return not class_mode() or teacher or is_theirs(status, user)


def is_theirs(status, student):
    """Whether the run with `status` was started with `student`'s secret (a name alone never is)."""
    return (
        student is not None
        and student.key is not None
        and status.owner_key is not None
        and hmac.compare_digest(status.owner_key, student.key)
    )


def same_person(status, student):
    """Whether a run's starter may be `student`: the same secret, name, browser or network address."""
    pairs = (
        (status.owner_key, student.key),
        (status.owner, student.name),
        (status.owner_browser, student.browser),
        (status.owner_address, student.address),
    )
    return any(mine is not None and mine == theirs for mine, theirs in pairs)


def check_control(run, status, user, teacher):
    """Refuses, in one sentence, a stop or resume that `may_control` does not allow (a control forced past
    the page, for one)."""
    if not may_control(status, user, teacher):
        owner = status.owner or "nobody named"
        raise ClassroomError(
            f"Run {status.title or run.name!r} belongs to {owner}; only they or the teacher can stop or resume it."
        )


def delete_run(run, teacher):
    """Deletes a run's folder: the teacher's action (anyone's outside class mode), never a run that is queued or
    training. Under the launch lock, so no start takes the run between the check and the deletion."""
    if class_mode() and not teacher:
        raise ClassroomError("Only the teacher can delete runs.")
    with locks.file_lock(run.path.parent / locks.LAUNCH_LOCK):
        if not may_delete(run):
            raise UserError(f"Run {run.name!r} is queued or training; stop or cancel it before deleting it.")
        try:
            shutil.rmtree(run.path)
        except OSError as error:
            raise UserError(f"Run {run.name!r} could not be deleted ({error.strerror or error}); try again.") from None


def may_delete(run):
    """Whether `run` may be deleted: it is neither queued nor training (a damaged run may, as it cannot train)."""
    active = False
    with contextlib.suppress(UserError):
        active = run.status().active
    return not (active or run.alive())


def pin(run, pinned, teacher):
    """Pins `run` on the run board for discussion, or unpins it: the teacher's action (anyone's outside class
    mode)."""
    if class_mode() and not teacher:
        raise ClassroomError("Only the teacher can pin runs for discussion.")
    run.update_status(pinned=pinned)


def check_student_start(runs, config, owner, limits, trained_seconds=0.0, status=None):
    """Refuses, in one sentence, a student's start past the class's `limits`: too many runs of `owner`'s (a
    Student, counted by `same_person`) queued or training in `runs`, an estimated cost over the cap (on the images
    a resumed run's `status` recorded, else its settings'), or a run that has used its training time already."""
    mine = [run for run in runs if _is_active_run_of(run, owner)]
    if len(mine) >= limits.runs_per_student:
        raise ClassroomError(
            f"You have {len(mine)} run(s) queued or training ({mine[0].status().title or mine[0].name}) and the class "
            f"allows {limits.runs_per_student}: stop or cancel one first."
        )
    images = images_per_epoch(config, status)
    guess = estimate(config, images, runs)
    if config.minutes > limits.max_estimated_minutes:
        raise ClassroomError(
            f"This run would train for {config.minutes:g} min and the class's limit is "
            f"{limits.max_estimated_minutes:g} min: choose fewer minutes."
        )
    if not config.minutes and guess.seconds > limits.max_estimated_minutes * 60:
        minutes, gflops = math.ceil(guess.seconds / 60), training_flops_per_image(config) / 1e9
        raise ClassroomError(
            f"This run would train for about {minutes:,} min here ({config.epochs} epochs x {images:,} images x "
            f"{gflops:.2f} GFLOP each) and the class's limit is "
            f"{limits.max_estimated_minutes:g} min: choose fewer epochs or images, or a narrower network."
        )
    if trained_seconds >= limits.max_training_minutes * 60:
        raise ClassroomError(
            f"This run has trained for {trained_seconds / 60:.0f} min, the class's limit of "
            f"{limits.max_training_minutes:g} min; only the teacher can resume it."
        )


def _is_active_run_of(run, owner):
    try:
        status = run.status()
    except UserError:
        return False
    return status.active and same_person(status, owner)
