"""How soon Stop, pressed in Chromium on the live view of a run training on the Ray cluster, ends it: the seconds
from the click until the worker's copy of the run holds the request, until the head's runs folder says `stopped`, and
until the page says so. Two runs called alike train at once on the two one-CPU nodes of a cluster on this machine
(ray.cluster_utils), under a real `streamlit run` with VGG_CLUSTER; the page shows the older one, as its link names
it.

    python benchmarks/cluster_stop.py --data-dir ../shared/cifar10 --train-subset 2000
"""

import argparse
import os
import pathlib
import re
import sys
import tempfile
import time

PROJECT_ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))
from benchmarks.browser import launch_chromium, print_browser_bench, streamlit_server, wait_until_idle  # noqa: E402
from vgg.classroom.launch import stop_active_runs  # noqa: E402
from vgg.core.config import preset  # noqa: E402
from vgg.runs.folder import create_run, open_run  # noqa: E402
from vgg.runs.queue import enqueue  # noqa: E402
from vgg.runs.status import ENDED_STATES  # noqa: E402

NODE = {"num_cpus": 1, "object_store_memory": 400 * 2**20}
SCRATCH = "vgg-cluster-*"  # A worker's copy of its run's folder (vgg/cluster/worker.py), on this same machine.


def stop_from_the_page(url, runs, config, data_dir):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page()
        page.goto(f"{url}/train")  # Its first script run joins the cluster, whose pump then starts queued runs.
        wait_until_idle(page)
        for name in ("a", "b"):  # Called alike and started the same minute; "a" is the older.
            enqueue(create_run(runs, config, name=name, data_dir=data_dir))
        page.goto(f"{url}/train?run=a")
        # Mid-epoch, as most clicks land: the trainer looks for a stop after each batch, not while it validates.
        expect(page.get_by_text(re.compile(r"Epoch \d\.\d\d of 100 · [\d,]+ images/s"))).to_be_visible(timeout=600_000)
        pressed = time.monotonic()
        page.get_by_role("button", name="Stop").first.click()
        reached, stopped = after_the_click(open_run(runs, "a"), pressed)
        expect(page.get_by_text(re.compile(r"is stopped"))).to_be_visible(timeout=120_000)
        shown = time.monotonic() - pressed
        browser.close()
    return {
        "reached_the_worker_s": reached,
        "stopped_s": stopped,
        "page_says_stopped_s": round(shown, 1),
        "load_average": os.getloadavg()[0],
    }


def after_the_click(run, pressed):
    """(seconds until the worker's copy of the run holds the stop request, seconds until the head's says stopped)."""
    reached, request = None, f"{SCRATCH}/runs/{run.name}/stop-requested"
    while time.monotonic() - pressed < 300 and run.status().state not in ENDED_STATES:
        if reached is None and any(pathlib.Path(tempfile.gettempdir()).glob(request)):
            reached = round(time.monotonic() - pressed, 2)
        time.sleep(0.05)
    return reached, round(time.monotonic() - pressed, 1)


def measure(args):
    from ray.cluster_utils import Cluster

    config = preset("cpu").replace(train_subset=args.train_subset, epochs=100)
    data_dir = str(pathlib.Path(args.data_dir).resolve())
    with tempfile.TemporaryDirectory() as folder:
        runs = pathlib.Path(folder) / "runs"
        runs.mkdir()
        cluster = Cluster(initialize_head=True, head_node_args=NODE)
        cluster.add_node(**NODE)
        environment = dict(
            os.environ,
            VGG_CLUSTER=cluster.address,
            VGG_RUNS_DIR=str(runs),
            VGG_DATA_DIR=data_dir,
            VGG_CACHE_DIR=f"{folder}/cache",
        )
        try:
            with streamlit_server(environment) as (_, url):
                result = stop_from_the_page(url, runs, config, data_dir)
                stop_active_runs(runs)  # The other run, while its server still relays the stop.
                return result
        finally:
            cluster.shutdown()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--train-subset", type=int, default=2000)
    arguments = parser.parse_args()
    sys.exit(print_browser_bench(lambda: measure(arguments)))
