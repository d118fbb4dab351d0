"""Shared fixtures and helpers: generated image folders (no network, no downloads), isolated caches, a
tiny trained run, and a real `streamlit run` for the browser tests (their helpers: browser_helpers.py)."""

import contextlib
import os
import pathlib
import shutil
import subprocess
import sys
import time
import types
import urllib.request

import numpy as np
import pytest

PROJECT_ROOT = pathlib.Path(__file__).resolve().parent.parent
SHARED_CIFAR10 = PROJECT_ROOT.parent / "shared" / "cifar10"
sys.path.insert(0, str(PROJECT_ROOT))

# Importing vgg sets TensorFlow's environment (oneDNN, logging) before anything loads it: nothing before
# it loads TensorFlow (browser_helpers does not).
from browser_helpers import CHROMIUM, CHROMIUM_ARGUMENTS, free_port  # noqa: E402
from vgg.core.config import TrainConfig  # noqa: E402
from vgg.data.cifar10 import CLASS_NAMES  # noqa: E402


def class_templates(num_classes=10, seed=1234):
    """One smooth random 32x32 colour pattern per class: easy for a CNN, impossible by colour alone."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, size=(num_classes, 4, 4, 3))
    return np.repeat(np.repeat(coarse, 8, axis=1), 8, axis=2)


def generated_images(per_class, seed=0, num_classes=10):
    """Class templates, shifted by up to 2 pixels and with noise: (images uint8, labels)."""
    rng = np.random.default_rng(seed)
    templates = class_templates(num_classes)
    images, labels = [], []
    for label in range(num_classes):
        for _ in range(per_class):
            shift = rng.integers(-2, 3, size=2)
            image = np.roll(templates[label], tuple(shift), axis=(0, 1)) + rng.normal(0, 25, size=(32, 32, 3))
            images.append(np.clip(image, 0, 255).astype(np.uint8))
            labels.append(label)
    return np.stack(images), np.array(labels)


def write_image_folder(root, per_class, seed=0, suffix=".png"):
    """Writes root/train/<class>/NNNN.png like ../shared/cifar10 and returns root."""
    from PIL import Image

    images, labels = generated_images(per_class, seed)
    counters = {}
    for image, label in zip(images, labels, strict=True):
        folder = pathlib.Path(root) / "train" / CLASS_NAMES[label]
        folder.mkdir(parents=True, exist_ok=True)
        index = counters.get(label, 0)
        counters[label] = index + 1
        Image.fromarray(image).save(folder / f"{index:04d}{suffix}")
    return pathlib.Path(root)


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    """Every test decodes into its own cache, so no test passes on another's leftovers."""
    monkeypatch.setenv("VGG_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory):
    """60 generated images per class in the CIFAR-10 folder layout."""
    return write_image_folder(tmp_path_factory.mktemp("data"), per_class=60)


def tiny_config(**changes):
    """A VGG16 at 1/8 width that learns the generated classes in a few seconds on a CPU."""
    config = TrainConfig(
        width=0.125,
        batch_size=32,
        epochs=4,
        learning_rate=0.05,
        warmup_epochs=0.0,
        augment=False,
        validation_size=100,
        jit_compile="off",
        log_every_seconds=0.0,
    )
    return config.replace(**changes)


def subprocess_environment(**extra):
    environment = dict(os.environ)
    environment["PYTHONPATH"] = str(PROJECT_ROOT) + os.pathsep + environment.get("PYTHONPATH", "")
    environment.update({key: str(value) for key, value in extra.items()})
    return environment


def page_test(module):
    """An AppTest of one page function, outside the router, as a user on that page sees it."""
    from streamlit.testing.v1 import AppTest

    script = f"import vgg\nfrom app_pages import {module}\n{module}.render()\n"
    return AppTest.from_string(script, default_timeout=120)


@pytest.fixture
def app_environment(monkeypatch, image_folder, trained_runs_dir):
    """The pages' environment: the generated images and the runs folder with one tiny model."""
    monkeypatch.setenv("VGG_DATA_DIR", str(image_folder))
    monkeypatch.setenv("VGG_RUNS_DIR", str(trained_runs_dir))
    monkeypatch.chdir(PROJECT_ROOT)
    return trained_runs_dir


@pytest.fixture(scope="session")
def trained_runs_dir(tmp_path_factory, image_folder):
    """A runs folder holding one finished tiny run, so the model pages have a model to show."""
    from vgg.runs.folder import create_run
    from vgg.training.trainer import train_run

    runs_dir = tmp_path_factory.mktemp("runs")
    run = create_run(runs_dir, tiny_config(epochs=3), name="tiny", data_dir=str(image_folder))
    status = train_run(run, data_dir=image_folder, progress=lambda message: None)
    assert status.state == "finished", status.traceback
    return runs_dir


def png_bytes(pixels):
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def assert_one_sentence(message):
    """What a user reads: one line of words, no traceback, no bare errno."""
    assert message and message.strip() == message, repr(message)
    assert "\n" not in message and "Traceback" not in message and "[Errno" not in message, repr(message)


def train_run_quietly(run, data_dir):
    from vgg.training.trainer import train_run

    return train_run(run, data_dir=data_dir, progress=lambda message: None)


NOT_ACTIVE = ("created", "finished", "stopped", "failed", "interrupted", "unknown")


def stop_and_wait(run, process=None):
    """Stops a training run this test started and waits until it no longer counts as active."""
    from vgg.classroom.launch import wait_for
    from vgg.runs.folder import RunError

    with contextlib.suppress(RunError):  # It ended already.
        run.request_stop()
    if process is not None:
        process.wait(timeout=120)
    return wait_for(run, NOT_ACTIVE, 120)


@pytest.fixture(scope="session")
def browser_type_launch_args():
    """pytest-playwright's launch options: Debian's chromium, since Playwright cannot download its own
    browser here, with flags that keep it from reaching for the network, which this machine closes."""
    return {
        "executable_path": CHROMIUM,
        "args": CHROMIUM_ARGUMENTS,
    }


@contextlib.contextmanager
def app_server(root, data_dir, runs_source=None):
    """A real `streamlit run` on a free port over `data_dir`, with a copy of `runs_source` (or nothing) as its
    runs folder. Yields an object with `url`, `runs_dir` and `log` (the server's output)."""
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is missing; tests/run.sh installs it")
    pytest.importorskip("playwright.sync_api")
    runs_dir = root / "runs"
    if runs_source is not None:
        shutil.copytree(runs_source, runs_dir)
    port = free_port()
    environment = subprocess_environment(VGG_DATA_DIR=data_dir, VGG_RUNS_DIR=runs_dir, VGG_CACHE_DIR=root / "cache")
    log_path = root / "server.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port),
             "--server.headless", "true", "--browser.gatherUsageStats", "false"],
            cwd=PROJECT_ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
                break
            except OSError:
                time.sleep(0.3)
        else:
            process.kill()
            pytest.fail("streamlit did not start within 90 seconds")
        try:
            yield types.SimpleNamespace(url=url, runs_dir=runs_dir, log=log_path)
            # Only a failing test shows this; it says what the server said while the tests ran.
            print(log_path.read_text()[-4000:])
        finally:
            from vgg.classroom.launch import stop_active_runs

            # Training processes live in their own sessions: a failed test must not leave them running.
            stop_active_runs(runs_dir)
            process.terminate()
            process.wait(timeout=30)


@pytest.fixture(scope="module")
def server(tmp_path_factory, image_folder, trained_runs_dir):
    """The app over the generated images, with a copy of the runs folder holding one tiny model: one per test
    module that asks for it."""
    with app_server(tmp_path_factory.mktemp("server"), image_folder, trained_runs_dir) as running:
        yield running
