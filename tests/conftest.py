"""The tests' fixtures (their helpers are in helpers.py and browser_helpers.py), and the markers each tier's
folder gives its tests: tests/training and tests/cluster are `slow`, tests/browser is `browser` and `slow`."""

import os
import pathlib
import shutil
import sys

import pytest

TESTS = pathlib.Path(__file__).resolve().parent
# The tiers' folders import helpers.py and browser_helpers.py from here, and benchmarks/ from the project.
sys.path[:0] = [str(TESTS), str(TESTS.parent)]

from browser_helpers import app_server  # noqa: E402
from helpers import (  # noqa: E402
    PASSWORD,
    PROJECT_ROOT,
    SHARED_CIFAR10,
    TINY_EXPERIMENT,
    experiment_file,
    tiny_config,
    train_quietly,
    write_image_folder,
)

# A finished run's process prepares its pages' analyses (vgg/explain/ready.py) only in the tests of that
# (tests/training/test_ready.py): in every other test's runs, servers and fixtures it would add seconds of work.
os.environ["VGG_PREPARE_ANALYSES"] = "0"

TIER_MARKERS = {"training": ("slow",), "browser": ("browser", "slow"), "cluster": ("slow",)}


# First, so that pytest-xdist's own hook, which reads the groups, finds them.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """Marks each test by its folder, so that no test can be marked other than what it costs. The browser tests
    form one group that pytest-xdist runs on one worker, one at a time: two servers and their Chromiums side by
    side on two cores would slow each other past their waits. The cluster tests form another: never two Ray
    clusters at once."""
    for item in items:
        tier = tier_of(item)
        for marker in TIER_MARKERS.get(tier, ()):
            item.add_marker(marker)
        if tier in ("browser", "cluster"):
            item.add_marker(pytest.mark.xdist_group(tier))


def tier_of(item):
    return pathlib.Path(item.path).relative_to(TESTS).parts[0]


@pytest.fixture(scope="session")
def decoded_cifar10(tmp_path_factory, worker_id):
    """The decoded-image cache of ../shared/cifar10 (50,000 PNGs, about 10 s of a core to decode), decoded once for
    the whole run and every xdist worker; empty without the folder. What it decodes is the app's own reading."""
    from vgg.core.locks import file_lock
    from vgg.data.cifar10 import read_image_folder

    if not SHARED_CIFAR10.exists():
        return []
    # xdist's workers each have a base folder inside the run's own: its parent is theirs to share.
    root = tmp_path_factory.getbasetemp() if worker_id == "master" else tmp_path_factory.getbasetemp().parent
    folder = root / "decoded-cifar10"
    folder.mkdir(exist_ok=True)
    with file_lock(folder / ".lock"), pytest.MonkeyPatch.context() as patch:
        patch.setenv("VGG_CACHE_DIR", str(folder))
        read_image_folder(SHARED_CIFAR10 / "train")
    return sorted(folder.glob("images-*.npz"))


@pytest.fixture(autouse=True)
def isolated_cache(request, tmp_path_factory, monkeypatch):
    """Every test decodes into its own cache, so no test passes on another's leftovers; the slow tiers' caches start
    with the shared images decoded (a link to the run's one copy, which nothing writes in place)."""
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("VGG_CACHE_DIR", str(cache))
    if tier_of(request.node) in TIER_MARKERS:
        for decoded in request.getfixturevalue("decoded_cifar10"):
            os.link(decoded, cache / decoded.name)


@pytest.fixture(autouse=True)
def no_shipped_preparation(monkeypatch):
    """A server started by a test (the entry file through AppTest, a streamlit run) prepares no shipped model's
    analyses in a process of its own beside the tests (vgg/explain/ready.py), nor warms up TensorFlow and the
    models in a thread (app_pages/warm.py), unless the test asks for it."""
    monkeypatch.setenv("VGG_PREPARE_SHIPPED", "0")
    monkeypatch.setenv("VGG_WARM_UP", "0")


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory):
    """60 generated images per class in the CIFAR-10 folder layout."""
    return write_image_folder(tmp_path_factory.mktemp("data"), per_class=60)


@pytest.fixture
def data_environment(monkeypatch, image_folder, tmp_path):
    """The pages' environment over the generated images and an empty runs folder: no model but the shipped one."""
    monkeypatch.setenv("VGG_DATA_DIR", str(image_folder))
    monkeypatch.setenv("VGG_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.chdir(PROJECT_ROOT)
    return tmp_path / "runs"


@pytest.fixture
def class_environment(tmp_path, monkeypatch, image_folder):
    """A class-mode server's environment (the teacher's password set) with `tmp_path` as its runs folder."""
    monkeypatch.setenv("VGG_TEACHER_PASSWORD", PASSWORD)
    monkeypatch.setenv("VGG_RUNS_DIR", str(tmp_path))
    monkeypatch.setenv("VGG_DATA_DIR", str(image_folder))
    monkeypatch.chdir(PROJECT_ROOT)
    return tmp_path


@pytest.fixture
def experiments_environment(data_environment, tmp_path, monkeypatch):
    """The Experiments page over an empty runs folder and one tiny experiment, with its own task."""
    from vgg.classroom.launch import stop_active_runs

    folder = tmp_path / "experiments"
    experiment_file(folder, "tiny", TINY_EXPERIMENT)
    (folder / "try-this.toml").write_text('[pages]\n"Experiments" = "Predict first, then start."\n')
    monkeypatch.setenv("VGG_EXPERIMENTS_DIR", str(folder))
    yield data_environment
    stop_active_runs(data_environment)


@pytest.fixture
def busy_slot(tmp_path):
    """The machine's one slot held by this test, as by a run that trains: runs launched meanwhile wait."""
    import os

    from vgg.classroom.launch import stop_active_runs
    from vgg.core import locks
    from vgg.runs.queue import slot_path

    runs_dir = tmp_path / "runs"
    runs_dir.mkdir()
    descriptor = locks.acquire(slot_path(runs_dir, 0))
    yield runs_dir
    os.close(descriptor)
    stop_active_runs(runs_dir)


@pytest.fixture(scope="module")
def shipped_card():
    """The shipped model's card (assets/vgg16_cifar10.json); skips without a shipped model."""
    import json

    from vgg.core.paths import ASSETS_DIR
    from vgg.runs.record import SHIPPED_MODEL

    if not SHIPPED_MODEL.exists():
        pytest.skip("no model ships in assets/ yet")
    return json.loads((ASSETS_DIR / "vgg16_cifar10.json").read_text())


@pytest.fixture(scope="module")
def shipped_model():
    """The shipped model, loaded once per test module; skips without one."""
    from vgg.explain.predictor import load_model
    from vgg.runs.record import SHIPPED_MODEL

    if not SHIPPED_MODEL.exists():
        pytest.skip("no model ships in assets/ yet")
    return load_model(SHIPPED_MODEL, runs_dir="runs")


# The tiny trained run: a training, so only tests/training and tests/browser ask for it ----------------------------


@pytest.fixture(scope="session")
def trained_runs_dir(tmp_path_factory, image_folder):
    """A runs folder holding one finished tiny run, so the model pages have a model to show."""
    from vgg.runs.folder import create_run

    runs_dir = tmp_path_factory.mktemp("runs")
    run = create_run(runs_dir, tiny_config(epochs=3), name="tiny", data_dir=str(image_folder), title="tiny")
    status = train_quietly(run, image_folder)
    assert status.state == "finished", status.traceback
    return runs_dir


@pytest.fixture(scope="module")
def tiny_run(trained_runs_dir, tmp_path_factory):
    """A copy of the tiny trained run that a test module may add to: its own runs folder."""
    from vgg.runs.folder import open_run

    runs_dir = tmp_path_factory.mktemp("runs")
    shutil.copytree(trained_runs_dir / "tiny", runs_dir / "tiny")
    return open_run(runs_dir, "tiny")


@pytest.fixture(scope="module")
def tiny_model_path(trained_runs_dir):
    return trained_runs_dir / "tiny" / "model.keras"


@pytest.fixture(scope="module")
def tiny_model(tiny_model_path, trained_runs_dir):
    """The tiny trained run's model, loaded once per test module."""
    from vgg.explain.predictor import load_model

    return load_model(tiny_model_path, trained_runs_dir)


@pytest.fixture
def app_environment(monkeypatch, image_folder, trained_runs_dir):
    """The pages' environment: the generated images and the runs folder with one tiny model."""
    monkeypatch.setenv("VGG_DATA_DIR", str(image_folder))
    monkeypatch.setenv("VGG_RUNS_DIR", str(trained_runs_dir))
    monkeypatch.chdir(PROJECT_ROOT)
    return trained_runs_dir


# A real `streamlit run` for tests/browser ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser_type_launch_args():
    """pytest-playwright's launch options: Debian's chromium, since Playwright cannot download its own
    browser here, with flags that keep it from reaching for the network, which this machine closes."""
    from benchmarks.browser import CHROMIUM, CHROMIUM_ARGUMENTS

    if CHROMIUM is None:
        pytest.skip("Debian's chromium is missing; tests/run.sh installs it")
    return {"executable_path": CHROMIUM, "args": CHROMIUM_ARGUMENTS}


@pytest.fixture(scope="session")
def browser_context_args():
    """Every page pytest-playwright opens has the screenshots' window size."""
    from benchmarks.browser import VIEWPORT

    return {"viewport": VIEWPORT}


@pytest.fixture(scope="session")
def shared_server(tmp_path_factory, image_folder):
    """The one app server of the browser tests that need no start-up settings of their own; its experiments
    folder is its own, so that a test can put its experiment there. Tests ask for `server` or `fresh_server`."""
    experiments_dir = tmp_path_factory.mktemp("experiments")
    with app_server(tmp_path_factory.mktemp("server"), image_folder, VGG_EXPERIMENTS_DIR=experiments_dir) as running:
        running.experiments_dir = experiments_dir
        yield running


@pytest.fixture
def fresh_server(shared_server):
    """Readies the shared server for one test: `fresh_server(runs_source)` stops its runs, makes its runs folder a
    copy of `runs_source` (empty for None) and its experiments the shipped ones, and returns the server."""
    from vgg.classroom.launch import stop_active_runs

    def ready(runs_source=None):
        stop_active_runs(shared_server.runs_dir)
        for folder in (shared_server.runs_dir, shared_server.experiments_dir):
            shutil.rmtree(folder, ignore_errors=True)
        if runs_source is None:
            shared_server.runs_dir.mkdir()
        else:
            shutil.copytree(runs_source, shared_server.runs_dir, dirs_exist_ok=True)
        shutil.copytree(PROJECT_ROOT / "experiments", shared_server.experiments_dir)
        return shared_server

    yield ready
    # A failed test must not leave a run training into the next one.
    stop_active_runs(shared_server.runs_dir)


@pytest.fixture
def server(fresh_server, trained_runs_dir):
    """The shared app server over a copy of the runs folder holding one tiny model, with no run active."""
    return fresh_server(trained_runs_dir)


@pytest.fixture
def class_server(tmp_path, image_folder, trained_runs_dir, monkeypatch):
    """A class-mode server of its own, since the teacher's password is a start-up setting; this process is in
    class mode too, so that the test's own checks refuse what the server refuses."""
    from vgg.classroom.policy import ClassLimits, save_limits

    monkeypatch.setenv("VGG_TEACHER_PASSWORD", PASSWORD)
    with app_server(tmp_path, image_folder, trained_runs_dir) as server:
        # Long runs on the small test images pass the default cost cap's estimate, made for CIFAR-10, only so.
        save_limits(server.runs_dir, ClassLimits(max_estimated_minutes=600))
        yield server
