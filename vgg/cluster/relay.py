"""The head's side of one run training on a cluster machine: a thread in the web server that holds the run's lock
for it, copies what the worker writes into the head's run folder, passes on a stop, and notices a machine gone.

The run's lock (vgg/core/locks.py) is held here while the remote run lives, so every reader (the Train page, the
queue, the doctor) sees it alive exactly as it sees a local training process; when the relay ends, so does that.
"""

import contextlib
import json
import os
import threading
import time

import ray

from vgg.cluster import sync
from vgg.core.files import read_json_object
from vgg.runs.status import ENDED_STATES, State

PULL_SECONDS = 0.5  # A row written on the worker reaches the head within about twice this.
# A worker that has not answered for this long is taken for gone (a switched-off machine that Ray has not yet
# declared dead, a network cut); Ray reports a killed node's actor as dead sooner, within its health checks.
LOST_SECONDS = 20.0
FIRST_ANSWER_SECONDS = 180.0
# Status fields the head owns: a worker's copy of them is stale or means another machine (its pid).
HEAD_FIELDS = ("updated", "pid", "queued_at", "pinned", "title", "owner", "node", "node_id", "time_limit_minutes")


class Relay(threading.Thread):
    def __init__(self, run, actor, descriptor, on_end, known=None, on_lost=None):
        super().__init__(name=f"vgg-relay-{run.name}", daemon=True)
        self.head_run, self.actor, self.descriptor, self.on_end = run, actor, descriptor, on_end
        self.known = known
        self.seen_status = read_json_object(run.status_path, "status.json", {})
        self.stop_relayed = False
        self.held_state = None  # The worker's ended state, until its last files have arrived.
        self.on_lost = on_lost  # Called when the run's machine stops answering, before anyone may see the run end.
        self.ending = threading.Event()  # Set by a server that shuts down: the run goes on training without it.

    def run(self):
        try:
            if self.known is None:  # The first answer waits for Ray to set the package and the images up there.
                self.known = ray.get(self.actor.known.remote(), timeout=FIRST_ANSWER_SECONDS)
            last_answer = time.monotonic()
            while not self.ending.is_set():
                reference = self.actor.changes.remote(self.known)
                ready, _ = ray.wait([reference], timeout=LOST_SECONDS - (time.monotonic() - last_answer))
                if not ready:
                    raise TimeoutError("no answer")
                outcome, found, self.known = ray.get(reference)
                last_answer = time.monotonic()
                self._apply(found, final=outcome is not None)
                if outcome is not None:
                    self._finish(outcome)
                    return
                self._relay_stop()
                self.ending.wait(PULL_SECONDS)
        except (ray.exceptions.RayError, TimeoutError):  # GetTimeoutError is a TimeoutError too.
            if self.on_lost is not None:
                self.on_lost()
            self._lost("{node} left the cluster while it trained")
        except Exception as error:  # noqa: BLE001  (the run must not look alive with no one following it)
            self._lost(f"The server lost track of it on {{node}} ({type(error).__name__}: {error})")
        finally:
            os.close(self.descriptor)
            self.on_end(self)

    def _apply(self, found, final):
        """Writes the files; the status's changes are merged, and an ended state waits for the run's last files (it
        may arrive in an earlier look than the last, and is then held until the last)."""
        name = self.head_run.status_path.name
        sync.apply(self.head_run.path, [change for change in found if change[0] != name])
        changed = {}
        for relative, _, data in found:
            if relative == name:
                changed = self._status_changes(json.loads(data))
        if not final and changed.get("state") in ENDED_STATES:
            self.held_state = changed.pop("state")
        elif final and self.held_state is not None:
            changed.setdefault("state", self.held_state)
        if changed:
            self.head_run.update_status(**changed)

    def _status_changes(self, remote):
        changed = {
            name: value
            for name, value in remote.items()
            if self.seen_status.get(name) != value and name not in HEAD_FIELDS
        }
        self.seen_status = remote
        return changed

    def _relay_stop(self):
        if not self.stop_relayed and self.head_run.stop_path.exists():
            self.stop_relayed = True
            self.actor.stop.remote()

    def _finish(self, outcome):
        if outcome not in [str(state) for state in ENDED_STATES]:
            self.head_run.update_status(state=State.FAILED, pid=None, phase=None, error=f"Training ended: {outcome}.")
        with contextlib.suppress(ray.exceptions.RayError):
            ray.get(self.actor.close.remote(), timeout=10)
        ray.kill(self.actor)

    def _lost(self, reason):
        """The machine left (switched off, its Ray processes killed): the run is interrupted, resumable from its
        last checkpoint that reached the head."""
        node = self.head_run.recorded_status().node or "its machine"
        self.head_run.update_status(
            condition=lambda now: now.state in (State.STARTING, State.RUNNING),
            state=State.INTERRUPTED,
            pid=None,
            phase=None,
            error=reason.format(node=node) + "; resume it to go on from its last checkpoint.",
        )
        with contextlib.suppress(Exception):
            ray.kill(self.actor)
