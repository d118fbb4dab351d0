"""A run that averages its last epochs' weights ships the averaged weights, and they still predict."""

import keras
import numpy as np

from helpers import tiny_config, train_quietly
from vgg.explain.predictor import load_model
from vgg.runs.folder import create_run


def test_an_averaging_run_ships_the_averaged_weights_and_still_predicts(image_folder, tmp_path):
    run = create_run(tmp_path / "runs", tiny_config(epochs=4, average_from_epoch=3), name="swa")
    status = train_quietly(run, image_folder)
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
