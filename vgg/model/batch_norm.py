"""Batch normalization that trains through TensorFlow's fused kernel: Keras' own layer, faster.

Keras 3's BatchNormalization computes a batch's mean, its variance and the normalization as separate
operations, each a pass over every activation; TensorFlow's FusedBatchNormV3 does them in one kernel, and
its gradient in one more, which speeds the cpu preset's training up on a 2-core CPU (BENCHMARKS.md). Inference
is Keras' own code, and a model saved for inference names Keras' own layer (`inference_config`), so any Keras
loads it without this module.
"""

import keras
import tensorflow as tf

PLAIN = {"module": "keras.layers", "class_name": "BatchNormalization", "registered_name": None}


@keras.saving.register_keras_serializable(package="vgg")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """keras.layers.BatchNormalization whose training step runs TensorFlow's fused kernel; every other call
    (inference, masks, renormalization, axes other than the last of an image batch) is Keras' own."""

    def call(self, inputs, training=None, mask=None):
        fusable = (
            training
            and self.trainable
            and mask is None
            and not self.renorm
            and self.center
            and len(inputs.shape) == 4
            and self.axis in (-1, 3)
        )
        if not fusable:
            return super().call(inputs, training=training, mask=mask)
        # The kernel takes 16-bit activations with float32 scale and shift, and computes its moments in float32;
        # it always scales, so a layer without a learned scale gives it ones.
        scale = tf.cast(self.gamma.value, tf.float32) if self.scale else tf.ones([inputs.shape[-1]], tf.float32)
        outputs, mean, variance = tf.compat.v1.nn.fused_batch_norm(
            inputs,
            scale,
            tf.cast(self.beta.value, tf.float32),
            epsilon=self.epsilon,
            data_format="NHWC",
            is_training=True,
        )
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        return tf.cast(outputs, self.compute_dtype)


def inference_config(model_config):
    """A functional model's config (`model.get_config()`) as a plain float32 Keras model: Keras' own
    batch-norm layer, and every layer computing in float32 whatever precision it trained in."""
    layers = []
    for layer in model_config["layers"]:
        layer = {**layer, "config": {**layer["config"], "dtype": "float32"}}
        if layer["class_name"] == FusedBatchNormalization.__name__:
            layer.update(PLAIN)
        layers.append(layer)
    return {**model_config, "layers": layers}
