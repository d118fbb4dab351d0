"""Snapshots without a training: the planned epochs, and the shipped cpu model's snapshots and slider."""

import numpy as np
import pytest

from helpers import generated_images
from vgg.core.paths import ASSETS_DIR
from vgg.explain.predictor import Predictor, load_model
from vgg.runs.snapshots import (
    epochs_of,
    file_epoch,
    load_epoch,
    planned_epochs,
)

SHIPPED_SNAPSHOTS = ASSETS_DIR / "vgg16_cpu_snapshots.keras"


def test_planned_epochs_are_zero_the_powers_of_two_and_the_last():
    assert planned_epochs(8) == [0, 1, 2, 4, 8]
    assert planned_epochs(5) == [0, 1, 2, 4, 5]
    assert planned_epochs(1) == [0, 1]
    with pytest.raises(ValueError, match="Received: epochs=0"):
        planned_epochs(0)


@pytest.mark.skipif(not SHIPPED_SNAPSHOTS.exists(), reason="the shipped cpu snapshots are not in assets/")
def test_the_shipped_cpu_snapshots_load_and_differ_from_the_model():
    assert epochs_of(SHIPPED_SNAPSHOTS) == [0, 1, 2, 4] and file_epoch(SHIPPED_SNAPSHOTS) == 8
    images, _ = generated_images(3, seed=3)
    final = Predictor(load_model(SHIPPED_SNAPSHOTS)).probabilities(images)
    for epoch in (0, 4):
        early = Predictor(load_epoch(load_model(SHIPPED_SNAPSHOTS), SHIPPED_SNAPSHOTS, epoch)).probabilities(images)
        assert np.abs(early - final).max() > 0.1


@pytest.mark.skipif(not SHIPPED_SNAPSHOTS.exists(), reason="the shipped cpu snapshots are not in assets/")
def test_the_shipped_cpu_model_gets_a_slider_from_random_weights_to_itself():
    from app_pages.snapshot_view import epoch_stops

    assert epoch_stops(SHIPPED_SNAPSHOTS) == {"0 (random weights)": 0, "1": 1, "2": 2, "4": 4, "8 (this model)": None}
    assert epoch_stops(ASSETS_DIR / "vgg16_cifar10.keras") == {}  # The 91% model keeps none: no slider.
