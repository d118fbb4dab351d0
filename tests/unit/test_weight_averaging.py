"""Stochastic weight averaging: the running mean, its resume, and the batch-norm pass after it."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

from helpers import tiny_config
from vgg.runs.folder import RunError, create_run
from vgg.training.averaging import WeightAverager, recompute_batch_norm_statistics
from vgg.training.callbacks import StopOnRequest


def _dense_model():
    inputs = keras.Input((2,))
    return keras.Model(inputs, layers.Dense(1, name="dense")(inputs))


def _averager(run, model, first_epoch=1):
    averager = WeightAverager(run, StopOnRequest(stop_request=None, steps_per_epoch=1), first_epoch)
    averager.set_model(model)
    return averager


def _set_kernel(model, value):
    model.get_layer("dense").kernel.assign(np.full((2, 1), value, dtype="float32"))


def test_the_average_covers_each_epoch_once_and_survives_a_resume(tmp_path):
    run = create_run(tmp_path / "runs", tiny_config(), name="average")
    model = _dense_model()
    averager = _averager(run, model, first_epoch=2)
    for epoch, value in enumerate([100.0, 1.0, 2.0]):  # Epoch 1 comes before the averaging starts.
        _set_kernel(model, value)
        averager.on_epoch_end(epoch)
    assert averager.count == 2 and np.allclose(averager.mean[0], 1.5)

    # A resumed process reads the saved average; an epoch trained again after a crash is not counted twice.
    resumed = _averager(run, model, first_epoch=2)
    assert resumed.count == 2 and resumed.last_epoch == 3
    _set_kernel(model, 50.0)
    resumed.on_epoch_end(2)
    _set_kernel(model, 6.0)
    resumed.on_epoch_end(3)
    assert resumed.count == 3 and np.allclose(resumed.mean[0], 3.0)


def test_an_unreadable_average_is_named_in_one_sentence_and_left_in_place(tmp_path):
    run = create_run(tmp_path / "runs", tiny_config(), name="corrupt")
    (run.path / "weight_average.npz").write_bytes(b"not an npz file")
    with pytest.raises(
        RunError, match=r"The weight average of run 'corrupt' cannot be read .*delete weight_average.npz"
    ):
        _averager(run, _dense_model())
    assert (run.path / "weight_average.npz").read_bytes() == b"not an npz file"


def test_batch_norm_statistics_become_the_mean_over_one_pass():
    inputs = keras.Input((2, 2, 3))
    model = keras.Model(inputs, layers.BatchNormalization(momentum=0.9)(inputs))
    rng = np.random.default_rng(0)
    batches = [rng.normal(loc=shift, scale=1 + shift, size=(8, 2, 2, 3)).astype("float32") for shift in (0.0, 2.0, 5.0)]
    dataset = tf.data.Dataset.from_tensor_slices((np.concatenate(batches), np.zeros(24))).batch(8)
    recompute_batch_norm_statistics(model, dataset)
    batch_norm = model.layers[-1]
    expected_mean = np.mean([batch.mean(axis=(0, 1, 2)) for batch in batches], axis=0)
    expected_variance = np.mean([batch.var(axis=(0, 1, 2)) for batch in batches], axis=0)
    assert np.allclose(keras.ops.convert_to_numpy(batch_norm.moving_mean), expected_mean, atol=1e-4)
    assert np.allclose(keras.ops.convert_to_numpy(batch_norm.moving_variance), expected_variance, atol=1e-3)
    assert batch_norm.momentum == 0.9  # Training afterwards uses the layer's own momentum again.
