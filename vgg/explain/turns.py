"""The server's line for first-time analyses: one runs at a time, first come first served.

Each analysis (an evaluation, a layer's pictures, top images, a neighbour index) takes seconds to minutes of the
server's one TensorFlow thread (vgg/model/device.py). Run side by side they would each take as long as all of
them together, and every Predict click would wait behind them all; in line, the first finishes first and a
waiting page can say how many jobs are ahead of its own.
"""

import collections
import contextlib
import threading

WAIT_SECONDS = 0.25  # How often a waiting job tells its page where it stands.


class Line:
    """A first-in first-out lock that tells each waiter how many jobs are ahead of it."""

    def __init__(self):
        self._changed = threading.Condition()
        self._waiting = collections.deque()
        self.given = 0  # Turns given so far: how many analyses this process has computed rather than read back.

    def length(self):
        """How many jobs run or wait."""
        with self._changed:
            return len(self._waiting)

    @contextlib.contextmanager
    def turn(self, waiting=None):
        """Waits for this job's turn, calling `waiting(jobs ahead)` every WAIT_SECONDS meanwhile (outside the
        line's lock: it may draw on a page, or raise to give up its place), and holds it for the `with` body."""
        ticket = object()
        with self._changed:
            self._waiting.append(ticket)
        try:
            ahead = None
            while True:
                with self._changed:
                    if ahead is not None and self._waiting.index(ticket) == ahead:
                        self._changed.wait(WAIT_SECONDS)  # Nothing moved since the last report.
                    ahead = self._waiting.index(ticket)
                    self.given += not ahead
                if not ahead:
                    break
                if waiting:
                    waiting(ahead)
            yield
        finally:
            with self._changed:
                self._waiting.remove(ticket)
                self._changed.notify_all()


ANALYSES = Line()  # The one line of this process: a model's analyses wait here, whatever page asked.
