"""Short-run ideas in real trainings: a whitened first layer stays fixed and the run still learns; batch norms
without a learned scale learn and save none."""

import keras
import numpy as np

from helpers import tiny_config, train_quietly
from vgg.data.cifar10 import load_cifar10
from vgg.explain.predictor import load_model
from vgg.model.whitening import FIRST_CONV, whitening_kernel
from vgg.runs.folder import create_run


def test_a_whitened_run_keeps_its_first_layer_fixed_and_still_learns(image_folder, tmp_path):
    run = create_run(tmp_path, tiny_config(whiten=True, epochs=3), name="whitened", data_dir=str(image_folder))
    assert train_quietly(run, image_folder).state == "finished"
    dataset = load_cifar10(image_folder, validation_size=100)
    model = load_model(str(run.model_path), runs_dir=tmp_path)
    expected = whitening_kernel(dataset.x_train, model.get_layer(FIRST_CONV).filters)
    assert np.allclose(keras.ops.convert_to_numpy(model.get_layer(FIRST_CONV).kernel), expected, atol=1e-6)
    epochs = run.metrics().epochs
    assert epochs[-1].loss < epochs[0].loss


def test_a_run_whose_batch_norms_learn_no_scale_learns_and_saves_none(image_folder, tmp_path):
    config = tiny_config(batch_norm_scale=False, augment=True, alternate_flips=True, epochs=3)
    run = create_run(tmp_path, config, name="no-scale", data_dir=str(image_folder))
    assert train_quietly(run, image_folder).state == "finished"
    model = load_model(str(run.model_path), runs_dir=tmp_path)
    batch_norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(batch_norms) == 13 and all(layer.gamma is None for layer in batch_norms)
    epochs = run.metrics().epochs
    assert epochs[-1].loss < epochs[0].loss
