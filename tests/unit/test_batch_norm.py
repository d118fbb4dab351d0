"""The fused batch norm trains as Keras' own layer does, and a model saved for inference is Keras' own."""

import keras
import numpy as np
import pytest

from vgg.core.config import preset
from vgg.model.batch_norm import FusedBatchNormalization, inference_config
from vgg.model.build import build_from_config, describe


def _pair(dtype_policy, scale=True):
    keras.mixed_precision.set_global_policy(dtype_policy)
    try:
        plain = keras.layers.BatchNormalization(momentum=0.9, scale=scale)
        fused = FusedBatchNormalization(momentum=0.9, scale=scale)
        for layer in (plain, fused):
            layer.build((None, 8, 8, 6))
        rng = np.random.default_rng(0)
        for layer in (plain, fused):
            if scale:
                layer.gamma.assign(rng.uniform(0.5, 2.0, 6).astype("float32"))
        fused.set_weights(plain.get_weights())
        return plain, fused
    finally:
        keras.mixed_precision.set_global_policy("float32")


# bfloat16 keeps 8 bits of mantissa: one step of it near 10 is 0.0625.
@pytest.mark.parametrize("scale", [True, False], ids=["learned-scale", "no-scale"])
@pytest.mark.parametrize("policy, rtol, atol", [("float32", 1e-3, 1e-4), ("mixed_bfloat16", 1e-2, 5e-2)])
def test_a_training_step_normalizes_and_updates_statistics_as_keras_does(policy, rtol, atol, scale):
    plain, fused = _pair(policy, scale)
    batch = np.random.default_rng(1).normal(3.0, 2.0, (16, 8, 8, 6)).astype("float32")
    expected = keras.ops.convert_to_numpy(keras.ops.cast(plain(batch, training=True), "float32"))
    actual = keras.ops.convert_to_numpy(keras.ops.cast(fused(batch, training=True), "float32"))
    assert np.abs(actual.mean(axis=(0, 1, 2))).max() < 0.2  # Normalized (before the learned shift)...
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)  # ...exactly as Keras normalizes.
    # The moving statistics that validation and the app use moved as Keras' did (the fused kernel's
    # variance is the unbiased one: 1024/1023 of Keras', well inside this tolerance).
    for mine, theirs in zip(fused.non_trainable_weights, plain.non_trainable_weights, strict=True):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(mine), keras.ops.convert_to_numpy(theirs), rtol=1e-2)
    inference = keras.ops.convert_to_numpy(keras.ops.cast(fused(batch, training=False), "float32"))
    reference = keras.ops.convert_to_numpy(keras.ops.cast(plain(batch, training=False), "float32"))
    np.testing.assert_allclose(inference, reference, rtol=rtol, atol=atol)


def test_the_training_model_saved_for_inference_is_plain_float32_keras(tmp_path):
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        trained = build_from_config(preset("cpu").replace(width=1 / 16), for_training=True)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    trained.get_layer("block1_conv1").trainable = False
    assert isinstance(trained.get_layer("block3_bn2"), FusedBatchNormalization)
    # Inside VGG16's layer table reads a checkpoint's batch norm as Keras' own.
    assert {row["kind"] for row in describe(trained)["layers"] if row["name"] == "block3_bn2"} == {"BatchNormalization"}
    saved = keras.Model.from_config(inference_config(trained.get_config()))
    saved.set_weights(trained.get_weights())
    saved.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True, compile=False)
    assert type(loaded.get_layer("block3_bn2")) is keras.layers.BatchNormalization
    assert {layer.dtype_policy.name for layer in loaded.layers} == {"float32"}
    assert not loaded.get_layer("block1_conv1").trainable  # The Filters tab reads this.
    images = np.random.default_rng(2).integers(0, 256, (4, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(loaded(images), saved(images), atol=1e-6)
