"""The short-run training ideas, each as the trainer uses it: the whitening first layer (vgg/model/whitening.py),
look-ahead (vgg/training/lookahead.py), alternating flips (vgg/data/cifar10.py) and batch norms without a learned scale.
Their effect on accuracy is measured on real images in BENCHMARKS.md; these tests hold what each must do on any data."""

import keras
import numpy as np
import pytest

from helpers import tiny_config
from vgg.core.cifar10 import MEAN, STD
from vgg.core.config import SettingError, validate
from vgg.data.cifar10 import load_cifar10, make_tf_dataset
from vgg.model.whitening import whitening_kernel
from vgg.training.lookahead import FINAL_DECAY, SYNC_EVERY, Lookahead


def standardized_patches(images):
    pixels = (images.astype(np.float64) / 255 - np.array(MEAN)) / np.array(STD)
    windows = np.lib.stride_tricks.sliding_window_view(pixels, (3, 3), axis=(1, 2))
    return windows.transpose(0, 1, 2, 4, 5, 3).reshape(-1, 27)


def test_the_whitening_filters_give_uncorrelated_unit_variance_responses(image_folder):
    images = load_cifar10(image_folder).x_train
    kernel = whitening_kernel(images, 16)
    assert kernel.shape == (3, 3, 3, 16)
    responses = standardized_patches(images) @ kernel.reshape(27, 16).astype(np.float64)
    covariance = np.cov(responses[:, :8], rowvar=False)
    # The strongest 8 directions: decorrelated, each scaled to unit variance (less a hair for the epsilon).
    assert np.allclose(covariance, np.eye(8), atol=0.02), np.round(covariance, 3)
    # The other 8 filters are the same directions negated, so a ReLU after them keeps both sides.
    assert np.allclose(kernel[..., 8:], -kernel[..., :8])


def test_look_ahead_pulls_the_weights_back_toward_the_last_sync_more_as_training_ends():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, use_bias=False)])
    lookahead = Lookahead(total_steps=10)
    lookahead.set_model(model)
    kernel = model.layers[0].kernel
    kernel.assign(np.zeros((2, 1)))
    lookahead.on_train_begin()
    for step in range(1, 11):
        kernel.assign(kernel.value + 1.0)  # What an optimizer step would do.
        before = float(kernel.value[0, 0])
        lookahead.on_train_batch_end(step - 1)
        if step % SYNC_EVERY:
            assert float(kernel.value[0, 0]) == before
    # Sync 1 at step 5 (decay 0.95^5 x (1/2)^3) and sync 2 at step 10 (0.95^5): each keeps that share of the
    # last synced weights and the rest of the weights the optimizer reached.
    first_decay, last_decay = FINAL_DECAY * 0.5**3, FINAL_DECAY
    after_first = first_decay * 0.0 + (1 - first_decay) * 5.0
    expected = last_decay * after_first + (1 - last_decay) * (after_first + 5.0)
    assert np.isclose(float(kernel.value[0, 0]), expected, atol=1e-5)


def flipped_in_each_pass(alternate_flips, passes=3):
    """Which of 64 images each pass over a training dataset showed mirrored: each image is dark on its left
    half and bright on its right, which a 4-pixel crop cannot turn around; its label is its index."""
    images = np.full((64, 32, 32, 3), 200, np.uint8)
    images[:, :, :16] = 50
    dataset = make_tf_dataset(
        images, np.arange(64), 16, augment=True, shuffle=True, seed=3, one_hot=False, alternate_flips=alternate_flips
    )
    flipped = np.zeros((passes, 64), bool)
    for epoch in range(passes):
        for pixels, labels in dataset:
            pixels = pixels.numpy()
            flipped[epoch, labels.numpy()] = pixels[:, :, :12].mean(axis=(1, 2, 3)) > pixels[:, :, 20:].mean(
                axis=(1, 2, 3)
            )
    return flipped


def test_alternating_flips_show_each_image_the_other_way_round_in_the_next_epoch():
    flipped = flipped_in_each_pass(alternate_flips=True)
    assert 0.3 < flipped[0].mean() < 0.7  # The first epoch flips about half, drawn per image...
    assert np.all(flipped[1] != flipped[0]) and np.all(flipped[2] == flipped[0])  # ...then each one alternates.
    coins = flipped_in_each_pass(alternate_flips=False)
    assert np.any(coins[1] == coins[0])  # By a coin each time, some images are shown the same way twice.


def test_alternating_flips_without_augmentation_are_refused_in_one_sentence():
    with pytest.raises(SettingError, match="alternate_flips is part of augmentation"):
        validate(tiny_config(alternate_flips=True, augment=False))
