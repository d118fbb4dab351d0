"""Ray is optional: without VGG_CLUSTER the server's queue never imports it, and a wrong VGG_CLUSTER is one sentence."""

import os
import socket
import subprocess
import sys

import pytest

from helpers import PROJECT_ROOT, assert_one_sentence, assert_user_error
from vgg.cluster.connect import CLUSTER_VARIABLE, ClusterError, cluster_address, use_configured_cluster

# What the server does at start and on every redraw of the queue: its modules, joining no cluster, starting runs.
SERVER_START = """
import sys
import app_pages.caches, app_pages.train_page, vgg.classroom.launch, vgg.cli
from vgg.cluster.connect import use_configured_cluster
from vgg.runs.queue import forecast, start_due_runs
assert use_configured_cluster(sys.argv[1]) is None
start_due_runs(sys.argv[1]), forecast(sys.argv[1])
print(sorted(name for name in sys.modules if name == "ray" or name.startswith("ray.")))
"""


def test_without_vgg_cluster_the_server_never_imports_ray(tmp_path):
    environment = {name: value for name, value in os.environ.items() if name != CLUSTER_VARIABLE}
    result = subprocess.run(
        [sys.executable, "-c", SERVER_START, str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env=environment,
        check=True,
    )
    assert result.stdout.strip() == "[]", result.stderr


@pytest.mark.parametrize("value", ["auto", "ray://lab-head:10001", "192.168.1.10:6379"])
def test_vgg_cluster_takes_auto_a_client_address_or_a_head_address(monkeypatch, value):
    monkeypatch.setenv(CLUSTER_VARIABLE, value)
    assert cluster_address() == value


def test_a_wrong_vgg_cluster_is_refused_in_one_sentence(monkeypatch):
    monkeypatch.setenv(CLUSTER_VARIABLE, "lab head")
    with pytest.raises(ValueError, match="VGG_CLUSTER") as refused:
        cluster_address()
    assert_one_sentence(str(refused.value), naming="'lab head'")


def test_a_cluster_that_does_not_answer_is_said_in_one_sentence_without_waiting_for_ray(monkeypatch, tmp_path):
    with socket.socket() as closed:  # A port nothing listens on.
        closed.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{closed.getsockname()[1]}"
    monkeypatch.setenv(CLUSTER_VARIABLE, address)
    with pytest.raises(ClusterError) as refused:
        use_configured_cluster(tmp_path)
    assert_user_error(refused.value, naming=address)


def test_a_cluster_that_did_not_answer_is_not_knocked_on_again_at_every_page(monkeypatch, tmp_path):
    with socket.socket() as head:
        head.bind(("127.0.0.1", 0))  # Bound, not yet listening: a connection is refused.
        address = f"127.0.0.1:{head.getsockname()[1]}"
        monkeypatch.setenv(CLUSTER_VARIABLE, address)
        with pytest.raises(ClusterError) as refused:
            use_configured_cluster(tmp_path)
        head.listen()
        head.setblocking(False)
        with pytest.raises(ClusterError) as again:  # The next page's script run, with the head up meanwhile.
            use_configured_cluster(tmp_path)
        assert str(again.value) == str(refused.value) and "tries again after" in str(again.value)
        assert_user_error(again.value, naming=address)
        with pytest.raises(BlockingIOError):
            head.accept()  # Nobody knocked: that page did not wait for the cluster again.
