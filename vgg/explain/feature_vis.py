"""What a channel or a class wants: the 32x32 input that excites it most, found by gradient ascent from faint
noise (activation maximization, as in Olah, Mordvintsev & Schubert, "Feature Visualization", Distill 2017).

Every channel of a request is optimized at once, one picture per batch row, in one traced step. Three
regularizers keep the pictures readable rather than adversarial noise: the image lives in a decorrelated
colour and Fourier space whose high frequencies are damped; each step sees it rolled by a few pixels (a
pattern must work wherever it lies); and an L2 penalty keeps pixels near grey unless they help. A channel's
objective is the mean of its pre-ReLU map away from the edges (a dead ReLU would pass no gradient); a
class's is its logit.

Pictures are computed once per model file, layer and count, and saved where the model's evaluations are
(vgg/explain/cache.py): beside a run's model, in the data cache for the shipped one.
"""

import dataclasses
import time

import numpy as np

from vgg.core.errors import UserError
from vgg.core.layers import batch_norm_name
from vgg.explain.cache import cache_key, computed_once, load_arrays, save_arrays, saved_seconds

CLASSES = "classes"  # The `layer` of a request for the ten class outputs instead of a conv layer's channels.
STEPS = 160  # Gradient-ascent steps: enough for the shipped model's block 3 to 5 patterns to take shape.
# A class's logit can sit on a plateau for a hundred steps before it climbs past its real images' best; ten class
# pictures are cheap next to a layer's sixteen channels, so they get twice the steps.
CLASS_STEPS = 320
# Adam's steps in the Fourier parameters, far above Lucid's 0.05 since 160 steps must do. A class's logit climbs
# higher with the smaller step: at 0.5 one of the tiny test model's classes stalled below its real images' best.
LEARNING_RATE = 0.5
CLASS_LEARNING_RATE = 0.3
DECAY = 2.0  # Each frequency is scaled by 1 / frequency to this power: at Lucid's 1, 32x32 pictures came out speckled.
JITTER = 2  # Pixels an image may be rolled by in each step, either way.
STEADY_FROM = 0.8  # The share of the steps after which the image is no longer rolled.
L2_WEIGHT = 0.05  # Penalty on the squared distance from grey, per pixel on the [-1, 1] scale.
FORMAT = 2  # Bumped when the saved pictures change meaning; older files are then computed again.
# The square root of ImageNet's colour correlation (Lucid's `color_correlation_svd_sqrt`): optimizing in its
# coordinates lets the pictures take natural colours instead of red-green-blue speckle. Each direction is scaled to
# unit norm, so a pattern that needs the weakest colour contrast is reached as fast as one in brightness.
COLOR_SQRT = np.array([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], dtype=np.float32)
COLOR_SQRT /= np.linalg.norm(COLOR_SQRT, axis=0)


class FeatureVisError(UserError):
    """A layer that cannot be pictured; its message is one sentence."""


@dataclasses.dataclass(frozen=True)
class Pictures:
    """What each target of a layer wants: `images[i]` excites `targets[i]` (a channel index, or a class index)."""

    layer: str  # A conv layer's name, or CLASSES.
    targets: tuple
    images: np.ndarray  # (N, 32, 32, 3) uint8, raw pixels as the model takes them.
    seconds: float  # How long computing them took.


def conv_target(model, layer_name):
    """(a Keras model from the pixels to what `layer_name`'s channels compute before their ReLU, a function
    that finishes that computation): batch norm's output when the conv has one, else the conv itself."""
    import keras

    try:
        conv = model.get_layer(layer_name)
    except ValueError:
        raise FeatureVisError(f"The model has no layer named {layer_name}.") from None
    if not isinstance(conv, keras.layers.Conv2D):
        raise FeatureVisError(f"{layer_name} is not a conv layer, so it has no channels to picture.")
    names = {layer.name for layer in model.layers}
    norm = batch_norm_name(layer_name)
    if norm in names:
        return keras.Model(model.inputs[0], model.get_layer(norm).output), lambda x: x

    def linear_conv(x):
        # The conv without its built-in ReLU: the same kernel and bias, so a negative response still has a gradient.
        y = keras.ops.conv(x, conv.kernel, strides=conv.strides, padding=conv.padding)
        return y + conv.bias if conv.use_bias else y

    return keras.Model(model.inputs[0], conv.input), linear_conv


def class_target(model):
    """(a Keras model from the pixels to the classifier's last input, a function from it to the class logits):
    the softmax is left out, since raising one probability is easiest by lowering the others."""
    import keras

    head = model.get_layer("predictions")
    return keras.Model(model.inputs[0], head.input), lambda x: keras.ops.matmul(x, head.kernel) + head.bias


def fourier_scale(size):
    """(size, size // 2 + 1) weights of each frequency of a real 2-D FFT, 1 / frequency ** DECAY: white noise in
    these coordinates is smooth like natural images' noise, so gradient steps change coarse structure first."""
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.rfftfreq(size)[None, :]
    return (1.0 / np.maximum(np.sqrt(fx**2 + fy**2), 1.0 / size) ** DECAY).astype(np.float32)


def interior(maps):
    """The maps (N, H, W, C) without their outer eighth on each side: units there see the zero padding, and
    maximizing them draws frames around the picture instead of the pattern."""
    margin = maps.shape[1] // 8
    return maps[:, margin : maps.shape[1] - margin, margin : maps.shape[2] - margin] if margin else maps


def make_ascent(features, finish, count, size):
    """A traced gradient-ascent step for `count` pictures at once, and its variables; the step takes one-hot
    (count, outputs) targets and returns each picture's objective."""
    import tensorflow as tf

    # A generator of its own, seeded: the same model gives the same pictures (a class sees what the teacher saw),
    # and the server's global random state, which other pages draw from, is left alone.
    generator = tf.random.Generator.from_seed(0)
    spectrum = tf.Variable(generator.normal((2, count, 3, size, size // 2 + 1), stddev=0.01))
    moments = [tf.Variable(tf.zeros_like(spectrum)) for _ in range(2)]
    step_count = tf.Variable(0.0)
    scale = tf.constant(fourier_scale(size))
    color = tf.constant(COLOR_SQRT.T)

    def pixels():
        # (count, 3, H, W) from the spectrum, then colours mixed: (count, H, W, 3) in raw pixels 0-255.
        planes = tf.signal.irfft2d(tf.complex(spectrum[0] * scale, spectrum[1] * scale)) / 4
        return tf.sigmoid(tf.einsum("nchw,cd->nhwd", planes, color)) * 255

    @tf.function(autograph=False)
    def step(targets, jitter, rate):
        shift = generator.uniform((2,), -JITTER, JITTER + 1, dtype=tf.int32) * jitter
        with tf.GradientTape() as tape:
            images = pixels()
            outputs = finish(features(tf.roll(images, shift, axis=(1, 2)), training=False))
            scores = outputs if len(outputs.shape) == 2 else tf.reduce_mean(interior(outputs), axis=(1, 2))
            objective = tf.reduce_sum(scores * targets, axis=1)
            penalty = L2_WEIGHT * tf.reduce_mean((images / 127.5 - 1) ** 2, axis=(1, 2, 3))
            loss = -tf.reduce_sum(objective - penalty)
        gradient = tape.gradient(loss, spectrum)
        # Adam by hand (0.9, 0.999): Keras 3's optimizers take Keras variables, this is a plain tf.Variable.
        step_count.assign_add(1.0)
        moments[0].assign(0.9 * moments[0] + 0.1 * gradient)
        moments[1].assign(0.999 * moments[1] + 0.001 * gradient**2)
        first = moments[0] / (1 - 0.9**step_count)
        second = moments[1] / (1 - 0.999**step_count)
        spectrum.assign_sub(rate * first / (tf.sqrt(second) + 1e-8))
        return objective

    return step, pixels


def maximize(model, layer, targets, steps=None, progress=None):
    """Pictures (N, 32, 32, 3) uint8 of what each of `targets` wants: channel indices of conv `layer`, or class
    indices with layer=CLASSES; `progress(done, steps)` every tenth of the way."""
    import tensorflow as tf

    targets = tuple(int(target) for target in targets)
    steps = steps or (CLASS_STEPS if layer == CLASSES else STEPS)
    if not targets:
        raise ValueError(f"targets must name at least one channel or class. Received: targets={targets!r}")
    features, finish = class_target(model) if layer == CLASSES else conv_target(model, layer)
    outputs = int(model.outputs[0].shape[-1]) if layer == CLASSES else int(model.get_layer(layer).filters)
    if max(targets) >= outputs or min(targets) < 0:
        raise ValueError(f"targets must lie in 0..{outputs - 1}. Received: targets={targets!r}")
    size = int(model.inputs[0].shape[1])
    started = time.perf_counter()
    step, pixels = make_ascent(features, finish, len(targets), size)
    one_hot = tf.one_hot(targets, outputs)
    rate = tf.constant(CLASS_LEARNING_RATE if layer == CLASSES else LEARNING_RATE, tf.float32)
    for done in range(1, steps + 1):
        # The last steps see the picture where it stands, so its pattern ends where it works best.
        step(one_hot, tf.constant(int(done <= steps * STEADY_FROM)), rate)
        if progress and (done % max(1, steps // 10) == 0 or done == steps):
            progress(done, steps)
    images = np.clip(np.round(pixels().numpy()), 0, 255).astype(np.uint8)
    return Pictures(layer, targets, images, time.perf_counter() - started)


def cache_file(model_path, kind, detail):
    """(where a model file's saved `kind` of pictures for `detail` go, the model's SHA-256) (vgg/explain/cache.py)."""
    key = cache_key(model_path, kind, detail)
    return key.file, key.model_sha256


def pictures_of(model_path, layer, get_model, count=16, progress=None):
    """(Pictures, None) of the first `count` channels of conv `layer` (or the classes, layer=CLASSES), read back
    from where they were saved or else computed with get_model() and saved; (Pictures, one sentence) when they
    could not be saved."""
    key = cache_key(model_path, "pictures", f"{layer}-{count}")
    expected = {"format": FORMAT, "model_sha256": key.model_sha256, "layer": layer}

    def load():
        saved = load_arrays(key.file, expected, ("images", "targets"))
        if saved is None or saved[1]["images"].dtype != np.uint8 or saved[1]["images"].ndim != 4:
            return None
        meta, arrays = saved
        return Pictures(layer, tuple(arrays["targets"].tolist()), arrays["images"], saved_seconds(meta))

    def compute(report):
        model = get_model()
        outputs = int(model.outputs[0].shape[-1]) if layer == CLASSES else int(model.get_layer(layer).filters)
        return maximize(model, layer, range(min(count, outputs)), progress=report)

    def save(pictures):
        arrays = {"images": pictures.images, "targets": np.array(pictures.targets)}
        save_arrays(key, "pictures", arrays, expected | {"seconds": pictures.seconds}, "the saved feature pictures")

    return computed_once(key.file, load, compute, save, progress)


def first_layer_kinds(kernel):
    """Per first-layer filter (3, 3, 3, N): "colour" when most of its weight is one colour over all 9 pixels (it
    answers a colour wherever it is), else "edge" (it answers a change between neighbouring pixels)."""
    kernel = np.asarray(kernel, dtype=np.float64)
    mean = kernel.mean(axis=(0, 1), keepdims=True)
    uniform = (mean**2).sum(axis=(0, 1, 2)) * 9
    total = (kernel**2).sum(axis=(0, 1, 2))
    return ["colour" if share > 0.5 else "edge" for share in uniform / np.maximum(total, 1e-12)]
