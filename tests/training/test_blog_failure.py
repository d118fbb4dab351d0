"""The blog post's failure, reproduced on real CIFAR-10 images: its VGG16 never leaves ln 10.

Kept as the evidence behind the Train page's explanation. It needs ../shared/cifar10."""

import math

import numpy as np
import pytest

from helpers import SHARED_CIFAR10, train_quietly
from vgg.core.config import PRESETS
from vgg.explain.predictor import Predictor, load_model
from vgg.runs.folder import create_run

pytestmark = pytest.mark.skipif(not SHARED_CIFAR10.exists(), reason="../shared/cifar10 is not beside the project")


def test_blog_recipe_sits_at_ln10_and_answers_every_image_alike(tmp_path):
    # The blog's model and recipe exactly, on 2,000 real training images (62 steps of 32).
    config = PRESETS["blog"].replace(epochs=1, train_subset=2000, validation_size=500)
    run = create_run(tmp_path / "runs", config, name="blog")
    status = train_quietly(run, SHARED_CIFAR10)
    assert status.state == "finished", status.traceback
    epoch = list(run.metrics().epochs)[-1]
    print(f"blog recipe after {epoch.step} steps: val_loss {epoch.val_loss:.4f}, val_accuracy {epoch.val_accuracy:.3f}")
    assert epoch.val_loss == pytest.approx(math.log(10), abs=0.01)
    assert epoch.val_accuracy <= 0.15

    from vgg.data.cifar10 import load_cifar10

    images = load_cifar10(SHARED_CIFAR10, validation_size=500).x_val[:100]
    probabilities = Predictor(load_model(run.model_path, tmp_path / "runs")).probabilities(images)
    # The same answer for every image: the network ignores its input.
    assert np.abs(probabilities - probabilities.mean(axis=0)).max() < 0.01
