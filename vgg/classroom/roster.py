"""The class at a glance for the teacher's dashboard: whose runs wait in the queue, train, or have ended, read from
each run's status record."""

import contextlib
import dataclasses

from vgg.core.errors import UserError
from vgg.runs.folder import list_runs
from vgg.runs.naming import name_of
from vgg.runs.queue import queued_runs
from vgg.runs.status import State

# The dashboard's columns, in a run's order of life, and the states each gathers.
GROUPS = {
    "queued": (State.CREATED, State.QUEUED),
    "training": (State.STARTING, State.RUNNING),
    "finished": (State.FINISHED,),
    "stopped or failed": (State.STOPPED, State.INTERRUPTED, State.FAILED),
}


@dataclasses.dataclass(frozen=True)
class RosterEntry:
    owner: str  # Who started it; "" for a run without a name (the teacher's, or one from before class mode).
    title: str  # What people call it (vgg/runs/naming.py), without its owner.
    state: State
    place: int | None = None  # Its place in the queue, 1 for the next to start; None when it does not wait.


def class_roster(runs_dir):
    """{group: [RosterEntry]} for every group of GROUPS (empty ones too): the queue first in line first, the other
    groups newest first. A damaged run is left out."""
    places = {run.name: place for place, run in enumerate(queued_runs(runs_dir), start=1)}
    entries = []
    for run in list_runs(runs_dir):
        with contextlib.suppress(UserError):
            status = run.status()
            entry = RosterEntry(status.owner or "", name_of(run, with_owner=False), status.state, places.get(run.name))
            entries.append((status.created or "", entry))
    entries.sort(key=lambda item: item[0], reverse=True)
    roster = {group: [] for group in GROUPS}
    for _, entry in entries:
        group = next((name for name, states in GROUPS.items() if entry.state in states), None)
        if group is not None:
            roster[group].append(entry)
    roster["queued"].sort(key=lambda entry: entry.place or len(places) + 1)
    return roster
