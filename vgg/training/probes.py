"""The live probes behind diagnostics.jsonl: a Keras callback that runs one traced tf.function on a fixed
batch of images during training. What each number means is defined in vgg/runs/diagnostics.py, which reads
the rows back without loading TensorFlow.
"""

import dataclasses
import math
import time

import keras
import numpy as np
import tensorflow as tf

from vgg.core.cifar10 import NUM_CLASSES
from vgg.data.cifar10 import DataError, balanced_subset
from vgg.model.build import activation_layer_names
from vgg.model.names import block_of
from vgg.runs.diagnostics import (
    PROBE_IMAGES,
    NonFiniteRow,
    ProbeErrorRow,
    ProbeRow,
    UnitProbe,
    truncate_diagnostics,
)
from vgg.runs.metrics import row_line
from vgg.training.callbacks import current_learning_rate

PROBE_BUDGET = 0.04  # Share of the first epoch's training time the probes may add.
# A probe's image costs about two training images: training runs the fused batch-norm kernel (in bfloat16 on
# CPUs with it), a probe Keras' own, and records every layer's activations (the bench's probe row, BENCHMARKS.md).
PROBE_IMAGE_COST = 2
MIN_FIRST_EPOCH_PROBES = 4  # A short first epoch is still seen at this many points, whatever the budget says.


def probe_interval(steps_per_epoch, batch_size):
    """Steps between probes in the first epoch: within PROBE_BUDGET of its cost (40 steps at batch 256),
    yet at least MIN_FIRST_EPOCH_PROBES probes in a short epoch."""
    by_budget = max(1, math.ceil(PROBE_IMAGES * PROBE_IMAGE_COST / (PROBE_BUDGET * batch_size)))
    by_count = max(1, steps_per_epoch // MIN_FIRST_EPOCH_PROBES)
    return min(by_budget, by_count)


def probe_batch(dataset, seed):
    """(uint8 images, their labels): a class-balanced sample of the validation images, the same for the
    whole run; training images only when the run holds none out."""
    images, labels = (dataset.x_val, dataset.y_val) if len(dataset.y_val) else (dataset.x_train, dataset.y_train)
    try:
        index = balanced_subset(labels, PROBE_IMAGES, seed)[:PROBE_IMAGES]
    except DataError:  # Too few images of some class for a balanced sample: a seeded random one.
        index = np.sort(np.random.default_rng(seed).permutation(len(labels))[:PROBE_IMAGES])
    return images[index], labels[index]


@dataclasses.dataclass
class Unit:
    name: str
    activation_names: list  # Its layers whose outputs are after a ReLU, input side first.
    variables: list


def probe_units(model):
    """The units the doctor watches: each conv block, each hidden Dense layer, the output layer."""
    activation_names = activation_layer_names(model)
    units = []
    for block in sorted({block_of(name) for name in activation_names}):
        variables = [
            weight for layer in model.layers if block_of(layer.name) == block for weight in layer.trainable_weights
        ]
        units.append(Unit(f"block{block}", [name for name in activation_names if block_of(name) == block], variables))
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dense) and layer.name != "predictions":
            units.append(Unit(layer.name, [layer.name], list(layer.trainable_weights)))
    units.append(Unit("predictions", [], list(model.get_layer("predictions").trainable_weights)))
    return units


def make_probe_function(model, units, shadows):
    """The whole probe as one traced tf.function of (images, one-hot targets) -> (scalars, per-unit stats):
    scalars are loss, accuracy, entropy and prediction spread; each unit's row holds activation mean,
    std, dead fraction, gradient norm, weight norm, update norm and the weights' norm before the update."""
    activation_outputs = [model.get_layer(name).output for unit in units for name in unit.activation_names]
    probe_model = keras.Model(model.inputs, [*activation_outputs, model.outputs[0]])

    @tf.function
    def probe(images, targets):
        variables = [variable for unit in units for variable in unit.variables]
        with tf.GradientTape() as tape:
            *activations, probabilities = probe_model(images, training=False)
            probabilities = tf.cast(probabilities, tf.float32)
            loss = tf.reduce_mean(keras.losses.categorical_crossentropy(targets, probabilities))
        gradients = tape.gradient(loss, variables)
        activations = [tf.cast(a, tf.float32) for a in activations]
        return output_scalars(loss, probabilities, targets), tf.stack(unit_rows(units, activations, gradients, shadows))

    return probe


def unit_rows(units, activations, gradients, shadows):
    """Each unit's stats, in the probe's row order; `activations` and `gradients` are all units' in turn."""
    rows, first_activation, first_variable = [], 0, 0
    for unit in units:
        count, size = len(unit.activation_names), len(unit.variables)
        weights = [variable.value for variable in unit.variables]
        before = shadows[first_variable : first_variable + size]
        unit_gradients = [
            tf.zeros_like(weight) if gradient is None else gradient
            for weight, gradient in zip(weights, gradients[first_variable : first_variable + size], strict=True)
        ]
        rows.append(
            tf.stack(
                [
                    *activation_stats(activations[first_activation : first_activation + count]),
                    norm(unit_gradients),
                    norm(weights),
                    norm([weight - old for weight, old in zip(weights, before, strict=True)]),
                    norm(before),
                ]
            )
        )
        first_activation, first_variable = first_activation + count, first_variable + size
    return rows


def norm(tensors):
    return tf.sqrt(tf.add_n([tf.reduce_sum(tf.square(tf.cast(tensor, tf.float32))) for tensor in tensors]))


def activation_stats(activations):
    """The last activation's mean and spread, and the share of channels that are zero on every probe image."""
    if not activations:
        return [tf.constant(math.nan)] * 3
    dead = tf.add_n(
        [
            tf.reduce_sum(tf.cast(tf.reduce_all(a <= 0, axis=tuple(range(len(a.shape) - 1))), tf.float32))
            for a in activations
        ]
    )
    return [
        tf.reduce_mean(activations[-1]),
        tf.math.reduce_std(activations[-1]),
        dead / sum(int(a.shape[-1]) for a in activations),
    ]


def output_scalars(loss, probabilities, targets):
    """Loss, accuracy, mean entropy and the predictions' spread over the images (near 0 when all answers match)."""
    entropy = -tf.reduce_sum(probabilities * tf.math.log(tf.clip_by_value(probabilities, 1e-12, 1.0)), axis=-1)
    correct = tf.equal(tf.argmax(probabilities, axis=-1), tf.argmax(targets, axis=-1))
    spread = tf.reduce_mean(tf.math.reduce_std(probabilities, axis=0))
    return tf.stack([loss, tf.reduce_mean(tf.cast(correct, tf.float32)), tf.reduce_mean(entropy), spread])


def _finite_or_none(value):
    return None if math.isnan(value) else float(value)


def probe_row(units, scalars, stats, step, epoch, learning_rate, images, seconds):
    """The typed row of one probe's numbers, naming whatever came out NaN or infinite."""
    unit_probes, nonfinite = [], [] if math.isfinite(scalars[0]) else ["probe loss"]
    for unit, (mean, std, dead, gradient, weight, update, before) in zip(units, stats.tolist(), strict=True):
        nonfinite += [
            f"{unit.name} {what}"
            for what, value in (("weights", weight), ("gradients", gradient))
            if not math.isfinite(value)
        ]
        ratio = update / before if before > 0 else None
        unit_probes.append(
            UnitProbe(
                unit.name,
                _finite_or_none(mean) if unit.activation_names else None,
                _finite_or_none(std) if unit.activation_names else None,
                _finite_or_none(dead) if unit.activation_names else None,
                gradient,
                weight,
                ratio,
            )
        )
    loss, accuracy, entropy, spread = scalars.tolist()
    return ProbeRow(
        step=step,
        epoch=round(epoch, 6),
        learning_rate=learning_rate,
        loss=loss,
        accuracy=accuracy,
        entropy=entropy,
        prediction_spread=spread,
        images=images,
        units=tuple(unit_probes),
        nonfinite=tuple(nonfinite),
        seconds=round(seconds, 4),
    )


class DiagnosticsRecorder(keras.callbacks.Callback):
    """Appends probe rows to diagnostics.jsonl while the run trains.

    Probes the batch after every `interval` steps of the run's first epoch and the last batch of every
    epoch. Anything that goes wrong while probing is recorded once as a ProbeErrorRow and probing stops:
    the diagnostics are never worth a failed run.
    """

    def __init__(self, path, images, labels, steps_per_epoch, interval, num_classes=NUM_CLASSES):
        super().__init__()
        self.path = path
        self.images = np.asarray(images, dtype=np.float32)
        self.targets = np.eye(num_classes, dtype=np.float32)[np.asarray(labels)]
        self.steps_per_epoch = steps_per_epoch
        self.interval = interval
        self.active = True
        self.loss_was_finite = True
        self.function = None
        self.file = None
        self.epoch, self.batch, self.step = 0, -1, 0

    @classmethod
    def for_run(cls, run, config, data, epochs_done):
        """The recorder of a run about to fit, its rows after `epochs_done` dropped as its metrics are."""
        truncate_diagnostics(run, epochs_done)
        images, labels = probe_batch(data.dataset, config.seed)
        interval = probe_interval(data.steps_per_epoch, config.batch_size)
        return cls(
            run.diagnostics_path,
            images,
            labels,
            data.steps_per_epoch,
            interval,
            num_classes=len(data.dataset.class_names),
        )

    def write(self, row):
        if self.file is None:
            return
        try:
            self.file.write(row_line(row))
            self.file.flush()
        except (OSError, ValueError):
            self.active = False  # A full disk: the metrics and the checkpoint matter more than the diagnostics.

    def guarded(self, function, *args):
        if not self.active:
            return
        try:
            function(*args)
        except Exception as error:  # noqa: BLE001  (recorded once; training goes on without diagnostics)
            self.active = False
            message = (str(error).strip().splitlines() or [""])[0][:200]
            self.write(
                ProbeErrorRow(
                    self.step,
                    self.position(),
                    f"The probes stopped at step {self.step} "
                    f"({type(error).__name__}: {message}); training went on without them.",
                )
            )

    def build(self):
        """The probe function, and room for a copy of the weights: the update ratio compares the weights
        after a probed step with this copy taken just before it."""
        self.units = probe_units(self.model)
        self.shadows = [
            tf.Variable(tf.zeros(variable.shape, variable.dtype), trainable=False)
            for unit in self.units
            for variable in unit.variables
        ]
        variables = [variable for unit in self.units for variable in unit.variables]

        @tf.function
        def snapshot():
            for shadow, variable in zip(self.shadows, variables, strict=True):
                shadow.assign(variable.value)

        self.snapshot = snapshot
        self.function = make_probe_function(self.model, self.units, self.shadows)
        self.images_tensor, self.targets_tensor = tf.constant(self.images), tf.constant(self.targets)

    def on_train_begin(self, logs=None):
        self.step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        try:
            self.file = open(self.path, "a")  # noqa: SIM115  (kept open across batches, closed in on_train_end)
        except OSError:
            self.active = False  # Nowhere to write them: training goes on without probes.
        if self.function is None:
            self.guarded(self.build)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.batch = -1

    def position(self):
        return self.epoch + (self.batch + 1) / self.steps_per_epoch

    def is_probed(self, batch):
        if batch + 1 == self.steps_per_epoch:
            return True
        # The grid skips a probe that would fall within half an interval of the epoch's own.
        return (
            self.epoch == 0
            and (batch + 1) % self.interval == 0
            and self.steps_per_epoch - (batch + 1) >= self.interval / 2
        )

    def on_train_batch_begin(self, batch, logs=None):
        if self.active and self.is_probed(batch):
            self.probe_started = time.perf_counter()
            self.guarded(self.snapshot)
            self.snapshot_seconds = time.perf_counter() - self.probe_started

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        self.batch = batch
        loss = float((logs or {}).get("loss", 0.0))
        if self.loss_was_finite and not math.isfinite(loss):
            # Keras' loss is the epoch's running mean: it turns non-finite at the first bad step and stays so.
            self.loss_was_finite = False
            self.write(NonFiniteRow(self.step, round(self.position(), 6), "training loss", loss))
        if self.active and self.is_probed(batch):
            self.guarded(self.record)

    def record(self):
        started = time.perf_counter()
        scalars, stats = self.function(self.images_tensor, self.targets_tensor)
        scalars, stats = scalars.numpy(), stats.numpy()
        seconds = self.snapshot_seconds + time.perf_counter() - started
        self.write(
            probe_row(
                self.units,
                scalars,
                stats,
                self.step,
                self.position(),
                current_learning_rate(self.model.optimizer),
                len(self.images),
                seconds,
            )
        )

    def on_train_end(self, logs=None):
        if self.file is not None:
            self.file.close()
            self.file = None
