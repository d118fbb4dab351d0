"""Which cluster the server trains on: VGG_CLUSTER names it, and without it nothing imports Ray.

`auto` joins the Ray cluster this machine belongs to (`ray start --head` ran here), `ray://host:10001` one through
its client port, `host:6379` one through its head's address.
"""

import os
import re

CLUSTER_VARIABLE = "VGG_CLUSTER"
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


def use_configured_cluster(runs_dir):
    """Joins the cluster VGG_CLUSTER names and hands it the queue of `runs_dir`; returns its backend, or None."""
    address = cluster_address()
    if address is None:
        return None
    from vgg.cluster.head import ClusterBackend
    from vgg.runs.queue import use_cluster

    backend = ClusterBackend(address, runs_dir)
    use_cluster(backend)
    return backend
