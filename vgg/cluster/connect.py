"""Which cluster the server trains on: VGG_CLUSTER names it, and without it nothing imports Ray.

`auto` joins the Ray cluster this machine belongs to (`ray start --head` ran here), `ray://host:10001` one through
its client port, `host:6379` one through its head's address.
"""

import os
import pathlib
import re
import socket
import threading
import time

from vgg.core.errors import UserError

CLUSTER_VARIABLE = "VGG_CLUSTER"
REACH_SECONDS = 5  # Ray itself waits minutes for a head that does not answer, and the page with it.
# A cluster that could not be joined is asked again after this, not at every page's script run (each waits
# REACH_SECONDS for it).
RETRY_SECONDS = 60
ADDRESS_PATTERN = re.compile(r"^(auto|ray://[A-Za-z0-9.\-\[\]:]+:\d+|[A-Za-z0-9.\-\[\]:]+:\d+)$")


def cluster_address():
    """The cluster named by VGG_CLUSTER, or None for this machine alone."""
    value = os.environ.get(CLUSTER_VARIABLE, "").strip()
    if not value:
        return None
    if not ADDRESS_PATTERN.fullmatch(value):
        raise ValueError(
            f"{CLUSTER_VARIABLE} must be auto, ray://host:10001 or host:6379 (a Ray head's address). "
            f"Received: {value!r}"
        )
    return value


# Per (address, runs folder): every page's script run asks, and one server joins once.
_joined = {}  # The backend joined.
_refused = {}  # (time.monotonic() when it was refused, why), while it is not asked again.
_joining = threading.Lock()


def use_configured_cluster(runs_dir):
    """Joins the cluster VGG_CLUSTER names and hands it the queue of `runs_dir`, once per server; returns its
    backend, or None."""
    address = cluster_address()
    if address is None:
        return None
    key = (address, str(pathlib.Path(runs_dir).resolve()))
    with _joining:
        if key not in _joined:
            refused_at, refusal = _refused.get(key, (-float("inf"), None))
            if time.monotonic() - refused_at < RETRY_SECONDS:
                raise ClusterError(refusal)
            try:
                _joined[key] = _join(address, runs_dir)
            except ClusterError as error:
                _refused[key] = (time.monotonic(), str(error))
                raise
        return _joined[key]


def _join(address, runs_dir):
    refusal = (
        f"Could not reach the Ray cluster at {address} (the server tries again after {RETRY_SECONDS} s); start it "
        f"there with `ray start --head`, or unset {CLUSTER_VARIABLE} to train on this machine."
    )
    if not _answers(address):
        raise ClusterError(refusal)
    from vgg.cluster.head import ClusterBackend
    from vgg.runs.queue import use_cluster

    try:
        backend = ClusterBackend(address, runs_dir)
    except ConnectionError:  # `auto` with no Ray started on this machine.
        raise ClusterError(refusal) from None
    use_cluster(backend)
    return backend


class ClusterError(UserError):
    """A cluster that cannot be joined; its message is one sentence."""


def _answers(address):
    """Whether the head's port takes a connection (`auto` is looked up by Ray itself, on this machine)."""
    if address == "auto":
        return True
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=REACH_SECONDS).close()
    except OSError:
        return False
    return True
