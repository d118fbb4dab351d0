"""The teacher's password against guessing: too short a password is refused when the server starts, and after a
few wrong guesses in a minute every guess is refused for a while, whichever browser makes it, and the server's log
names the address they came from.

The pause is process-wide, not per browser: a student who opens many tabs or changes address guesses no faster.
The price is that a student typing wrong passwords also holds the teacher back for a minute at a time.
"""

import collections
import functools
import logging
import threading
import time

from vgg.classroom.policy import PASSWORD_VARIABLE, ClassroomError, is_teacher_password, teacher_password

MIN_LENGTH = 10  # Guessing 5 a minute, a 10-character password outlasts any lesson.
MAX_FAILURES = 5  # Wrong guesses within WINDOW_SECONDS before every guess pauses.
WINDOW_SECONDS = 60.0
PAUSE_SECONDS = 60.0

log = logging.getLogger(__name__)


def password_refusal():
    """One sentence when the server's password is too short to use, else None (no class mode, or long enough)."""
    password = teacher_password()
    if password is None or len(password) >= MIN_LENGTH:
        return None
    refusal = (
        f"{PASSWORD_VARIABLE} has {len(password)} characters and class mode needs at least {MIN_LENGTH}: "
        "restart the server with a longer password."
    )
    _log_once(refusal)
    return refusal


@functools.cache
def _log_once(message):
    """Every page asks at every run; the server's log says it once."""
    log.error(message)


class Guesses:
    """Wrong guesses of the teacher's password in this process, and the pause they earn."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = collections.deque()
        self._paused_until = 0.0

    def check(self, attempt, address=None):
        """Whether `attempt` is the teacher's password; ClassroomError in one sentence while guesses pause.
        `address` (the browser's network address, None on the server's own machine) goes into the log."""
        with self._lock:
            now = self._clock()
            if now < self._paused_until:
                raise ClassroomError(f"Too many wrong passwords: try again in {self._paused_until - now:.0f} s.")
            if is_teacher_password(attempt):
                return True
            self._failures.append(now)
            while self._failures[0] <= now - WINDOW_SECONDS:
                self._failures.popleft()
            if len(self._failures) >= MAX_FAILURES:
                self._paused_until = now + PAUSE_SECONDS
                self._failures.clear()
                log.warning(
                    "%d wrong teacher passwords within %.0f s, the last from %s: guesses pause for %.0f s.",
                    MAX_FAILURES,
                    WINDOW_SECONDS,
                    address or "this machine",
                    PAUSE_SECONDS,
                )
            return False


GUESSES = Guesses()  # The server's one count: every session's guesses add to it.
