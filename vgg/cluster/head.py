"""The queue's Ray backend: the app's queue, order, limits and cancel stay the app's; a run that leaves the queue
trains as a Ray actor on a machine with room, followed by a relay thread (vgg/cluster/relay.py).

Room: a machine without GPUs trains one run at a time and lends it all its CPUs (two runs on one machine would each
train at half speed, as on the server); a machine with GPUs trains a run per GPU, or four small runs per GPU
(SMALL_RUN_GPU), which leave most of a GPU idle alone. The actors are named and detached, so a restarted server
finds the runs still training and follows them again; a run whose actor is gone shows as interrupted.
"""

import contextlib
import dataclasses
import hashlib
import os
import pathlib
import threading
import time

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from vgg.cluster import sync
from vgg.cluster.relay import Relay
from vgg.cluster.worker import RemoteRunTrainer
from vgg.core import locks
from vgg.core.config import REDRAW_SECONDS
from vgg.core.errors import UserError
from vgg.data.cifar10 import load_cifar10
from vgg.runs.folder import list_runs
from vgg.runs.queue import queued_runs
from vgg.runs.status import PROCESS_STATES, State

NAMESPACE = "vgg-lab"
HEAD_RESOURCE = "node:__internal_head__"  # The resource Ray gives its head node alone.
# A fraction of a GPU for a small run: a 1/4-width VGG (1/16 of the full one's work) or a few thousand images,
# like the guided experiments, uses a small part of a GPU's time and memory, so four share one.
SMALL_RUN_GPU = 0.25
SMALL_WIDTH, SMALL_SUBSET = 0.25, 5000


@dataclasses.dataclass(frozen=True)
class Machine:
    node_id: str
    name: str
    cpus: float
    gpus: float


def machines():
    """The cluster's machines that are alive now, the head last: it serves the pages, so it trains when no other can."""
    nodes = sorted((node for node in ray.nodes() if node["Alive"]), key=lambda node: HEAD_RESOURCE in node["Resources"])
    return [Machine(node["NodeID"], node["NodeManagerHostname"], *_cpus_and_gpus(node["Resources"])) for node in nodes]


def _cpus_and_gpus(resources):
    return resources.get("CPU", 0), resources.get("GPU", 0)


def gpu_share(config):
    return SMALL_RUN_GPU if config.width <= SMALL_WIDTH or 0 < (config.train_subset or 0) <= SMALL_SUBSET else 1.0


class ClusterBackend:
    def __init__(self, address, runs_dir):
        package = pathlib.Path(__file__).resolve().parents[1]
        # The package travels to every worker with the job: a lab machine needs Ray and the requirements, not the app.
        ray.init(
            address=address,
            namespace=NAMESPACE,
            runtime_env={"py_modules": [str(package)], "env_vars": {"TF_FORCE_GPU_ALLOW_GROWTH": "true"}},
            log_to_driver=False,
            ignore_reinit_error=True,
        )
        self.runs_dir = pathlib.Path(runs_dir).resolve()
        self.prefix = "vgg-" + hashlib.sha256(str(self.runs_dir).encode()).hexdigest()[:8] + "-"
        self.relays = {}  # Run name -> its Relay, while it lives.
        self.shares = {}  # Run name -> (node id, GPUs it holds, or None for a whole CPU machine).
        # Machines whose runs were lost: Ray may call a switched-off machine alive for a while yet, and no run may go
        # there meanwhile (one that rejoins comes back as a new node).
        self.lost_nodes = set()
        self.datasets = {}  # (data folder, validation size, seed) -> the images in the object store.
        self.lock = threading.Lock()
        self.capacity_at = (-float("inf"), 1)  # (time.monotonic() when asked, the answer)
        self._follow_surviving_runs()

    def capacity(self):
        """How many runs train at once on the cluster as it is now (asked of Ray at most once per redraw: every
        watching page's forecast asks)."""
        now = time.monotonic()
        if now - self.capacity_at[0] > REDRAW_SECONDS:
            room = sum(int(machine.gpus / SMALL_RUN_GPU) if machine.gpus else 1 for machine in machines())
            self.capacity_at = (now, max(1, room))
        return self.capacity_at[1]

    def start_due_runs(self, runs_dir):
        """Starts queued runs, first in line first, on machines with room; returns {run name: its relay}."""
        started = {}
        with locks.file_lock(pathlib.Path(runs_dir) / locks.LAUNCH_LOCK):
            for run in queued_runs(runs_dir):
                placed = self._place(run.config())
                if placed is None:
                    break  # The queue's order holds: no later run jumps a run that waits for room.
                try:
                    relay = self._start(run, *placed)
                except UserError as error:  # Its images cannot be read: no retry would help.
                    run.update_status(state=State.FAILED, error=str(error), queued_at=None)
                    continue
                except Exception:  # noqa: BLE001  (Ray refused for now: the run keeps its place, the pump tries again)
                    break
                if relay is not None:
                    started[run.name] = relay
        return started

    def _place(self, config):
        """(machine, GPU share or None) with room for a run of `config`, or None."""
        with self.lock:
            held = list(self.shares.values())
        for machine in machines():
            if machine.node_id in self.lost_nodes:
                continue
            mine = [share for node_id, share in held if node_id == machine.node_id]
            if machine.gpus:
                share = gpu_share(config)
                if sum(mine) + share <= machine.gpus:
                    return machine, share
            elif not mine:
                return machine, None
        return None

    def _start(self, run, machine, share):
        descriptor = locks.acquire(run.lock_path)
        if descriptor is None:
            return None  # A process holds it already (a run trained from the command line).
        try:
            files, _ = sync.changes(run.path, {})
            images = self._images(run)
            resources = {"num_cpus": machine.cpus} if share is None else {"num_cpus": 0, "num_gpus": share}
            actor = RemoteRunTrainer.options(
                name=self.prefix + run.name,
                lifetime="detached",
                max_concurrency=4,
                scheduling_strategy=NodeAffinitySchedulingStrategy(machine.node_id, soft=False),
                **resources,
            ).remote(run.name, files, images)
            run.update_status(state=State.STARTING, pid=None, node=machine.name, node_id=machine.node_id, error=None)
            actor.start.remote()
        except BaseException:
            # Back in its place in the queue, for the pump's next try; its lock is no longer this server's.
            run.update_status(condition=lambda now: now.state == State.STARTING, state=State.QUEUED)
            os.close(descriptor)
            raise
        return self._follow(run, actor, descriptor, machine.node_id, share)

    def _images(self, run):
        """The run's images in the object store, read once on the head: no worker needs them on its disk."""
        config, status = run.config(), run.recorded_status()
        key = (status.data_dir, config.validation_size, config.seed)
        if key not in self.datasets:
            self.datasets[key] = ray.put(load_cifar10(status.data_dir, config.validation_size, config.seed))
        return self.datasets[key]

    def _follow(self, run, actor, descriptor, node_id, share, known=None):
        relay = Relay(run, actor, descriptor, self._ended, known, on_lost=lambda: self.lost_nodes.add(node_id))
        with self.lock:
            self.relays[run.name] = relay
            self.shares[run.name] = (node_id, share or 0.0)
        relay.start()
        return relay

    def _ended(self, relay):
        with self.lock:
            if self.relays.get(relay.head_run.name) is relay:  # Not the relay of the same run resumed since.
                del self.relays[relay.head_run.name], self.shares[relay.head_run.name]
        if not relay.ending.is_set():
            with contextlib.suppress(Exception):  # The run's own outcome is recorded; the queue is the next one's.
                self.start_due_runs(self.runs_dir)

    def _follow_surviving_runs(self):
        """Follows again the runs a previous server left training on the cluster; the others show as interrupted."""
        names = set(ray.util.list_named_actors())
        for run in list_runs(self.runs_dir):
            with contextlib.suppress(Exception):
                status = run.recorded_status()
                if status.state not in PROCESS_STATES or self.prefix + run.name not in names or run.alive():
                    continue
                descriptor = locks.acquire(run.lock_path)
                if descriptor is not None:
                    actor = ray.get_actor(self.prefix + run.name)
                    self._follow(run, actor, descriptor, status.node_id, None, sync.head_known(run.path))

    def close(self):
        """Lets go of the runs without stopping them (a server that shuts down); a new server follows them again."""
        with self.lock:
            relays = list(self.relays.values())
        for relay in relays:
            relay.ending.set()
        for relay in relays:
            relay.join(timeout=10)
