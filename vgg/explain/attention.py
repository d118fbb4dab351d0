"""Where the network looks: class activation maps at the last conv layer of blocks 3, 4 and 5 (8x8, 4x4 and 2x2
cells at 32x32 input) and a SmoothGrad saliency map at the input's own 32x32 pixels.

Why not classic Grad-CAM (Selvaraju et al.): it weighs each channel by its gradient averaged over the whole grid and
keeps only the positive part of the weighted sum. On the shipped model at block 4 (4x4, then a 2x2 max-pool that
passes gradient to one cell in four) most of those averaged weights are negative, and the sum is below zero in every
cell for many validation images (BENCHMARKS.md, "Where it looks"), though nearly all of those images have cells whose
own gradient and activation add to the class. So each
cell here is the gradient times the activation at that very cell, summed over channels (HiResCAM, Draelos & Carin
2020): the cells then add up to the layer's first-order contribution to the class score, and a map is empty only
when no cell adds anything to the class.
"""

import collections

import keras
import numpy as np
import tensorflow as tf

from vgg.model.build import activation_layer_names, block_of

BLOCKS = (3, 4, 5)
# Block 3 (8x8) is read first: greying out the quarter of the image its map marks strongest cuts the answer's
# probability more than a random quarter does, while block 4's strongest quarter matters less than a random one and
# block 5 has four cells (BENCHMARKS.md, "Where it looks").
DEFAULT_BLOCK = 3
SALIENCY_SAMPLES = 24  # Noisy copies averaged by SmoothGrad (Smilkov et al. 2017 use 10-50).
SALIENCY_NOISE = 0.15  # Noise's standard deviation as a share of the 0-255 pixel range (their 10-20%).

ClassMaps = collections.namedtuple("ClassMaps", "class_index grids saliency")
ClassMaps.__doc__ = """One class's maps of one image: `grids` {block: (h, w) float32 cell scores, >= 0, in class-score
units before upsampling}, `saliency` (H, W) float32 mean |gradient| per input pixel, or None."""


def last_activation_name(model, block):
    """The last activation (after its ReLU) of `block`, whose grid is the block's resolution before pooling."""
    names = [name for name in activation_layer_names(model) if block_of(name) == block]
    if not names:
        raise ValueError(f"The model has no conv layer in block {block}. Received: block={block}")
    return names[-1]


def is_empty(grid):
    """Whether no cell of a map adds anything to the class score: then there is nothing to show."""
    return not float(np.max(grid, initial=0.0)) > 0.0


def _head_and_logits(model):
    """The tensor the softmax layer reads and a function turning it into logits, or (None, None) for a model whose
    last layer is not a softmax Dense layer: its log-probability is scored instead."""
    last = model.layers[-1]
    if not (isinstance(last, keras.layers.Dense) and last.activation is keras.activations.softmax):
        return None, None

    def logits(head):  # (N, features) -> (N, classes)
        return tf.matmul(tf.cast(head, tf.float32), last.kernel) + last.bias

    return last.input, logits


class AttentionMaps:
    """Traced functions computing every block's map and the saliency map of chosen classes for one image.

    `weighting` "cell" (the default, HiResCAM) multiplies activations by the gradient at their own cell; "mean" is
    classic Grad-CAM's gradient averaged over the grid. `score` "logit" (the default) scores the class before the
    softmax when the model allows; "log_probability" scores it after. The alternatives exist so that
    benchmarks/empty_maps.py can compare them with the defaults.
    """

    def __init__(self, model, blocks=BLOCKS, weighting="cell", score="logit"):
        if weighting not in ("cell", "mean"):
            raise ValueError(f"weighting must be 'cell' or 'mean'. Received: weighting={weighting!r}")
        if score not in ("logit", "log_probability"):
            raise ValueError(f"score must be 'logit' or 'log_probability'. Received: score={score!r}")
        self.blocks = tuple(blocks)
        self.weighting = weighting
        head, self._logits = _head_and_logits(model) if score == "logit" else (None, None)
        activations = [model.get_layer(last_activation_name(model, block)).output for block in self.blocks]
        outputs = activations + [model.outputs[0]] + ([head] if head is not None else [])
        self._model = keras.Model(model.inputs, outputs)
        # No autograph: no tensor-dependent Python control flow here, and autograph re-reads source files.
        self._grids = tf.function(self._grids_of, reduce_retracing=True, autograph=False)
        self._saliency = tf.function(self._saliency_of, reduce_retracing=True, autograph=False)

    def _class_scores(self, images):
        """([activations per block], probabilities (N, classes), class scores (N, classes))."""
        outputs = self._model(images, training=False)
        activations, probabilities = outputs[: len(self.blocks)], outputs[len(self.blocks)]
        if self._logits is not None:
            return activations, probabilities, self._logits(outputs[-1])
        return activations, probabilities, tf.math.log(probabilities + 1e-12)

    def _grids_of(self, image, classes):
        """image (H, W, 3), classes (K,) with -1 for the predicted class -> ([(K, h, w) per block], classes (K,))."""
        images = tf.repeat(image[None], tf.shape(classes)[0], axis=0)  # One copy per class: (K, H, W, 3).
        with tf.GradientTape() as tape:
            activations, probabilities, scores = self._class_scores(images)
            chosen = tf.where(classes < 0, tf.argmax(probabilities, axis=1, output_type=tf.int32), classes)
            # Each copy's gradient depends only on its own score (no batch statistics at inference).
            total = tf.reduce_sum(tf.gather(scores, chosen, batch_dims=1))
        gradients = tape.gradient(total, activations)
        grids = []
        for activation, gradient in zip(activations, gradients, strict=True):  # Each (K, h, w, channels).
            if self.weighting == "mean":
                gradient = tf.reduce_mean(gradient, axis=(1, 2), keepdims=True)
            product = tf.cast(activation, tf.float32) * tf.cast(gradient, tf.float32)  # float16 under mixed precision.
            grids.append(tf.nn.relu(tf.reduce_sum(product, axis=-1)))
        return grids, chosen

    def _saliency_of(self, image, classes):
        """image (H, W, 3), classes (K,) -> (K, H, W): SmoothGrad's mean |gradient| over noisy copies, per pixel the
        largest over colour channels."""
        count = tf.shape(classes)[0]
        # Fixed noise, the same copies for every class: one image and class always get the same map, whichever
        # classes it is asked with, so cached and fresh answers agree.
        noise = tf.random.stateless_normal(
            tf.concat([[SALIENCY_SAMPLES], tf.shape(image)], axis=0), seed=[24, 0], stddev=SALIENCY_NOISE * 255.0
        )
        images = tf.tile(image[None] + noise, [count, 1, 1, 1])  # (K * samples, H, W, 3), class-major.
        targets = tf.repeat(classes, SALIENCY_SAMPLES)
        with tf.GradientTape() as tape:
            tape.watch(images)
            _, _, scores = self._class_scores(images)
            total = tf.reduce_sum(tf.gather(scores, targets, batch_dims=1))
        magnitude = tf.reduce_max(tf.abs(tape.gradient(total, images)), axis=-1)
        shape = tf.concat([[count, SALIENCY_SAMPLES], tf.shape(magnitude)[1:]], axis=0)
        return tf.reduce_mean(tf.reshape(magnitude, shape), axis=1)

    def grids(self, image, classes):
        """({block: (K, h, w) cell scores}, class indices (K,)) of one image for `classes` (None: the predicted)."""
        classes = np.asarray([-1 if label is None else int(label) for label in classes], dtype=np.int32)
        grids, chosen = self._grids(tf.constant(np.asarray(image, dtype=np.float32)), tf.constant(classes))
        return {block: grid.numpy() for block, grid in zip(self.blocks, grids, strict=True)}, chosen.numpy()

    def saliency(self, image, classes):
        """(K, H, W) SmoothGrad saliency of one image for each of `classes` (indices)."""
        classes = tf.constant(np.asarray(classes, dtype=np.int32))
        return self._saliency(tf.constant(np.asarray(image, dtype=np.float32)), classes).numpy()

    def maps(self, image, classes, saliency=True):
        """[ClassMaps] of one image, one per class in `classes` (None: the predicted class), in their order."""
        grids, chosen = self.grids(image, classes)
        pixels = self.saliency(image, chosen) if saliency else [None] * len(chosen)
        return [
            ClassMaps(int(label), {block: grid[index] for block, grid in grids.items()}, pixels[index])
            for index, label in enumerate(chosen)
        ]


def upsample(grid, size):
    """A (h, w) map bilinearly resized to `size` (height, width), as Grad-CAM is shown over its image."""
    return tf.image.resize(np.asarray(grid, dtype=np.float32)[..., None], size, method="bilinear")[..., 0].numpy()
