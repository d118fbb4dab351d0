"""Widening a model with random weights answers exactly as the narrow one, for every head and without batch norm."""

import numpy as np
import pytest

from helpers import tiny_config
from vgg.data.cifar10 import load_cifar10
from vgg.model.build import build_from_config
from vgg.model.widen import transfer_weights


@pytest.mark.parametrize(
    "changes", [{"head": "paper"}, {"head": "linear"}, {"batch_norm": False, "input_scaling": "unit"}]
)
def test_every_head_and_a_model_without_batch_norm_widen_exactly(changes, image_folder):
    narrow = build_from_config(tiny_config(**changes))
    # Random biases and batch-norm statistics too, so that copying them wrongly would show.
    narrow.set_weights(
        [
            np.random.default_rng(index).normal(0.1, 0.1, weight.shape).astype("float32") + (weight > 0.5)
            for index, weight in enumerate(narrow.get_weights())
        ]
    )
    wider = transfer_weights(narrow, build_from_config(tiny_config(width=0.1875, **changes)), seed=1)
    images = load_cifar10(image_folder, validation_size=100).x_val[:20]
    np.testing.assert_allclose(wider.predict(images, verbose=0), narrow.predict(images, verbose=0), atol=1e-5)
