"""Shared fixtures: generated image folders (no network, no downloads) and isolated caches."""

import os
import pathlib
import sys

import numpy as np
import pytest

PROJECT_ROOT = pathlib.Path(__file__).resolve().parent.parent
SHARED_CIFAR10 = PROJECT_ROOT.parent / "shared" / "cifar10"
sys.path.insert(0, str(PROJECT_ROOT))

# Importing vgg first sets TensorFlow's environment (oneDNN, logging) before anything loads it.
from vgg.config import TrainConfig  # noqa: E402
from vgg.data import CLASS_NAMES  # noqa: E402


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
    for image, label in zip(images, labels):
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


@pytest.fixture(scope="session")
def trained_runs_dir(tmp_path_factory, image_folder):
    """A runs folder holding one finished tiny run, so the model pages have a model to show."""
    from vgg.runs import create_run
    from vgg.train import train_run

    runs_dir = tmp_path_factory.mktemp("runs")
    run = create_run(runs_dir, tiny_config(epochs=3), name="tiny", data_dir=str(image_folder))
    status = train_run(run, data_dir=image_folder, progress=lambda message: None)
    assert status["state"] == "finished", status.get("traceback")
    return runs_dir


def png_bytes(pixels):
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()
