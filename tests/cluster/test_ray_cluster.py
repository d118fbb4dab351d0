"""Runs trained on a real Ray cluster of separate nodes on this machine (ray.cluster_utils starts a raylet per node,
each limited to one CPU), started, followed and stopped from the app's queue, with the head's runs folder as the one
truth: two runs at once on two nodes from images no machine has on disk, through a server restart; a node killed
mid-run."""

import pathlib
import shutil
import tempfile
import time
import types

import pytest

from helpers import page_test, texts, tiny_config

ray = pytest.importorskip("ray")

from ray.cluster_utils import Cluster  # noqa: E402

from vgg.classroom.launch import launch, wait_for  # noqa: E402
from vgg.cluster.connect import CLUSTER_VARIABLE, use_configured_cluster  # noqa: E402
from vgg.cluster.head import ClusterBackend  # noqa: E402
from vgg.data.cifar10 import load_cifar10  # noqa: E402
from vgg.runs.queue import use_cluster  # noqa: E402
from vgg.runs.status import ENDED_STATES, State  # noqa: E402

NODE = {"num_cpus": 1, "object_store_memory": 80 * 2**20}
SCRATCH = pathlib.Path(tempfile.gettempdir()) / "vgg-cluster-*"  # The workers' run folders (vgg/cluster/worker.py).
# Long enough to still be training when the test acts on it (drawing its pages first takes a while on a busy
# machine), while a short run ends soon.
LONG_EPOCHS, SHORT_EPOCHS = 400, 3


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A head and a second node, the server's backend joined to them (a test may restart it) and its runs folder."""
    lab = Cluster(initialize_head=True, head_node_args=NODE)
    worker = lab.add_node(**NODE)
    runs_dir = tmp_path_factory.mktemp("head") / "runs"
    runs_dir.mkdir()
    state = types.SimpleNamespace(lab=lab, worker=worker, runs_dir=runs_dir, backend=None)
    state.backend = start_server(state)
    scratch_before = set(SCRATCH.parent.glob(SCRATCH.name))
    try:
        yield state
    finally:
        use_cluster(None)
        state.backend.close()
        ray.shutdown()
        lab.shutdown()
        # A killed node leaves its scratch run folder behind, as a switched-off machine would.
        for folder in set(SCRATCH.parent.glob(SCRATCH.name)) - scratch_before:
            shutil.rmtree(folder, ignore_errors=True)


def start_server(state):
    """What the web server does at start with VGG_CLUSTER: joins the cluster and hands it the queue."""
    backend = ClusterBackend(state.lab.address, state.runs_dir)
    use_cluster(backend)
    return backend


def images_only_on_the_head(backend, image_folder, tmp_path, config):
    """A copy of the images that the head reads into Ray's object store and then deletes: no machine has them on
    disk while the runs train."""
    folder = tmp_path / "head-images"
    shutil.copytree(image_folder, folder)
    backend.datasets.clear()
    key = (str(folder), config.validation_size, config.seed)
    backend.datasets[key] = ray.put(load_cifar10(*key))
    shutil.rmtree(folder)
    return str(folder)


def wait_until(condition, timeout_seconds):
    deadline = time.monotonic() + timeout_seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.5)
    return condition()


def epochs_of(run):
    return [row.epoch for row in run.metrics().epochs]


def train_page_showing(run, monkeypatch):
    """The Train page of the head's server showing `run`, as a browser opening its link sees it."""
    monkeypatch.setenv("VGG_RUNS_DIR", str(run.path.parent))
    app = page_test("train_page")
    app.query_params["run"] = run.name
    return app.run()


def test_two_runs_train_at_once_on_two_nodes_from_the_heads_images_through_a_server_restart_and_stop_ends_one(
    cluster, image_folder, tmp_path, monkeypatch
):
    config = tiny_config(epochs=LONG_EPOCHS)
    data_dir = images_only_on_the_head(cluster.backend, image_folder, tmp_path, config)
    first, _ = launch(cluster.runs_dir, config=config, run_name="first", data_dir=data_dir)
    second, _ = launch(
        cluster.runs_dir, config=config.replace(epochs=SHORT_EPOCHS), run_name="second", data_dir=data_dir
    )
    both = (first, second)
    # Both charts have rows on the head while both still train: they train at the same time.
    assert wait_until(lambda: all(run.metrics().rows() for run in both), 240), [run.status() for run in both]
    statuses = [run.status() for run in both]
    assert [status.state for status in statuses] == [State.RUNNING, State.RUNNING]
    assert statuses[0].node_id != statuses[1].node_id and all(status.node for status in statuses)
    cluster.backend.close()  # The server stops; its runs train on without it,
    cluster.backend = start_server(cluster)  # and the restarted server follows them again.
    assert [run.status().state for run in both] == [State.RUNNING, State.RUNNING]
    pages = [train_page_showing(run, monkeypatch) for run in both]
    for page, status in zip(pages, statuses, strict=True):
        assert not page.exception and page.get("plotly_chart"), "no live chart on the head"
        assert f"on **{status.node}**" in texts(page)  # The page names the machine it trains on.
    stopping = pages[0].button(key="stop_first").click().run()  # Stop, pressed on the head's page.
    assert not stopping.exception and not stopping.error, [error.value for error in stopping.error]
    assert wait_for(first, ENDED_STATES, 60).state == State.STOPPED
    finished = wait_for(second, ENDED_STATES, 240)
    assert finished.state == State.FINISHED, finished.error
    # Trained on every image of the folder that no machine had on disk any more.
    assert finished.train_images == len(list(image_folder.glob("train/*/*"))) - config.validation_size
    assert epochs_of(second) == list(range(1, SHORT_EPOCHS + 1))  # Each once, across the restart.
    assert second.model_path.exists() and (second.path / "log.txt").read_text().strip()
    assert len(epochs_of(first)) < LONG_EPOCHS and first.checkpoint_path.exists()


def test_a_node_killed_mid_run_interrupts_it_and_it_resumes_on_the_head_without_losing_an_epoch(cluster, image_folder):
    runs_dir = cluster.runs_dir
    config = tiny_config(epochs=SHORT_EPOCHS + 1)
    run, _ = launch(runs_dir, config=config, run_name="killed", data_dir=str(image_folder))
    assert wait_until(lambda: run.checkpoint_state() is not None, 240), run.status()
    node_id = run.status().node_id
    assert node_id == cluster.worker.node_id  # The head trains last: it serves the pages.
    cluster.lab.remove_node(cluster.worker, allow_graceful=False)  # The machine is switched off.
    interrupted = wait_for(run, ENDED_STATES, 30)
    assert interrupted.state == State.INTERRUPTED and "left the cluster" in interrupted.error
    saved = run.checkpoint_state().epochs_done
    launch(runs_dir, run_name="killed", resume=True)
    finished = wait_for(run, ENDED_STATES, 240)
    assert finished.state == State.FINISHED, finished.error
    assert finished.node_id != node_id and saved >= 1
    assert epochs_of(run) == list(range(1, config.epochs + 1))  # Not one lost, not one twice.


def test_the_server_joins_the_cluster_once_however_many_pages_ask(cluster, tmp_path, monkeypatch):
    monkeypatch.setenv(CLUSTER_VARIABLE, cluster.lab.address)
    backend = use_configured_cluster(tmp_path)  # Every page's script run asks (app_pages/caches.start_queue_pump).
    try:
        # The same follower of the runs: a second would take their locks and relay each run twice.
        assert use_configured_cluster(tmp_path) is backend and use_configured_cluster(tmp_path / ".") is backend
    finally:
        backend.close()
        use_cluster(cluster.backend)
