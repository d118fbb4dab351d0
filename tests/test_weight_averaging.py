"""Stochastic weight averaging: the running mean, its resume, and the batch-norm pass after it."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

from conftest import tiny_config
from vgg.explain.predictor import load_model
from vgg.runs.folder import RunError, create_run
from vgg.training.averaging import WeightAverager, recompute_batch_norm_statistics
from vgg.training.callbacks import StopOnRequest
from vgg.training.trainer import train_run


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


def test_an_averaging_run_ships_the_averaged_weights_and_still_predicts(image_folder, tmp_path):
    run = create_run(tmp_path / "runs", tiny_config(epochs=4, average_from_epoch=3), name="swa")
    status = train_run(run, data_dir=image_folder, progress=lambda message: None)
    assert status.state == "finished", status.traceback
    assert status.averaged_epochs == 2
    assert status.final_accuracy >= 0.9
    shipped = load_model(run.model_path, tmp_path / "runs")
    last_epoch = load_model(run.checkpoint_path, tmp_path / "runs")
    with np.load(run.path / "weight_average.npz") as saved:
        mean = [saved[f"weight_{index}"] for index in range(len(shipped.trainable_weights))]
    for weight, expected in zip(shipped.trainable_weights, mean, strict=True):
        assert np.allclose(keras.ops.convert_to_numpy(weight), expected, atol=1e-6)
    # The shipped model is not the last epoch's: its weights and its batch-norm statistics changed.
    first_kernel = shipped.trainable_weights[0]
    assert not np.allclose(
        keras.ops.convert_to_numpy(first_kernel), keras.ops.convert_to_numpy(last_epoch.trainable_weights[0])
    )
    moving_mean = next(weight for weight in shipped.non_trainable_weights if "moving_mean" in weight.path)
    last_moving_mean = next(weight for weight in last_epoch.non_trainable_weights if "moving_mean" in weight.path)
    assert not np.allclose(keras.ops.convert_to_numpy(moving_mean), keras.ops.convert_to_numpy(last_moving_mean))
