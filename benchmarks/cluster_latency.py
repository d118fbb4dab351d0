"""What the Ray cluster path costs a run against this machine alone: the seconds from Start (the app's `launch`) to
the first chart row in the head's runs folder, each way, and how long after the worker writes a row it reaches the
head (both folders are on this machine here, so both are watched). The cluster is two one-CPU nodes on this machine
(ray.cluster_utils); each run trains alone.

    python benchmarks/cluster_latency.py --data-dir ../shared/cifar10 --train-subset 2000
"""

import argparse
import os
import pathlib
import sys
import tempfile
import time

PROJECT_ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))
from vgg.classroom.launch import launch, wait_for  # noqa: E402
from vgg.core.config import preset  # noqa: E402
from vgg.runs.status import ENDED_STATES  # noqa: E402

WATCH_SECONDS = 0.02


def rows(path):
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def watch(run, scratch_of):
    """(seconds to the head's first row, [seconds each row took from the worker's file to the head's]) until it ends."""
    start, first, written, arrived = time.perf_counter(), None, {}, {}
    while run.recorded_status().state not in ENDED_STATES or not first:
        now = time.perf_counter()
        scratch = scratch_of()
        for count in range(1, (rows(scratch) if scratch else 0) + 1):
            written.setdefault(count, now)
        for count in range(1, rows(run.metrics_path) + 1):
            arrived.setdefault(count, now)
        if arrived and first is None:
            first = now - start
        time.sleep(WATCH_SECONDS)
    return first, [arrived[count] - written[count] for count in arrived if count in written]


def one_run(runs_dir, name, config, data_dir, scratch_of):
    run, _ = launch(runs_dir, config=config, run_name=name, data_dir=data_dir)
    first, delays = watch(run, lambda: scratch_of(name))
    return first, delays, wait_for(run, ENDED_STATES, 600).state


def main(args):
    config = preset("cpu").replace(train_subset=args.train_subset, epochs=1, log_every_seconds=0.5)
    data_dir = str(pathlib.Path(args.data_dir).resolve())
    with tempfile.TemporaryDirectory() as folder:
        first, _, state = one_run(pathlib.Path(folder) / "local", "local", config, data_dir, lambda name: None)
        print(f"this machine alone: first chart row {first:.1f} s after Start ({state})", flush=True)
        from ray.cluster_utils import Cluster

        node = {"num_cpus": 1, "object_store_memory": 400 * 2**20}
        cluster = Cluster(initialize_head=True, head_node_args=node)
        cluster.add_node(**node)
        os.environ["VGG_CLUSTER"] = cluster.address
        runs_dir = pathlib.Path(folder) / "cluster"
        from vgg.cluster.connect import use_configured_cluster

        backend = use_configured_cluster(runs_dir)
        try:

            def scratch_of(name):
                found = sorted(pathlib.Path(tempfile.gettempdir()).glob(f"vgg-cluster-*/runs/{name}/metrics.jsonl"))
                return found[-1] if found else None

            for attempt in ("first", "second"):  # The first also sets Ray's runtime environment up on the node.
                first, delays, state = one_run(runs_dir, f"cluster-{attempt}", config, data_dir, scratch_of)
                delays.sort()
                print(
                    f"cluster, {attempt} run: first chart row {first:.1f} s after Start ({state}); "
                    f"{len(delays)} rows reached the head {delays[len(delays) // 2]:.2f} s (median), "
                    f"{delays[-1]:.2f} s (slowest) after the worker wrote them",
                    flush=True,
                )
        finally:
            backend.close()
            import ray

            ray.shutdown()
            cluster.shutdown()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--train-subset", type=int, default=2000)
    main(parser.parse_args())
