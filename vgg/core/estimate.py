"""How long a run will take here, before it starts: its compute per image, times its images, over this
machine's speed as its own earlier runs measured it.

Work is counted in floating-point operations from the settings alone (no TensorFlow), so the Train
page can say "about 1 h 40 min on this machine" while the user is still choosing.
"""

import contextlib
import dataclasses
import statistics

from vgg.core.cifar10 import NUM_CLASSES
from vgg.core.errors import UserError
from vgg.core.layers import convs, hidden_sizes

# What the slower of the 2-core CPUs this project runs on sustains on VGG training in float32 (the cpu preset
# at about 110 GFLOP/s on the Intel Xeon, 240 on the AMD EPYC: BENCHMARKS.md), until a run here measures it.
DEFAULT_GFLOPS = 110.0
SMALLEST_MEASURING_FLOPS = 0.1e9  # The cpu preset's 0.12 GFLOP per image and up measure the machine fairly.


def training_flops_per_image(config, num_classes=NUM_CLASSES):
    """FLOPs of one training step per image: the forward pass's multiply-adds (2 FLOPs each) in the conv
    and Dense layers, times 3 for the backward pass's two products."""
    plan = convs(config.variant, config.width)
    forward = sum(2 * conv.size * conv.size * 9 * conv.in_channels * conv.channels for conv in plan)
    features = plan[-1].channels  # Five poolings leave 1x1 maps.
    for units in (*hidden_sizes(config.head, features), num_classes):
        forward += 2 * features * units
        features = units
    return 3 * forward


@dataclasses.dataclass(frozen=True)
class Estimate:
    seconds: float
    gflops: float  # The machine speed it assumed.
    measured_by: str | None  # The run whose records gave that speed; None for the default.


def same_shape(config, other):
    """Whether two settings train at the same images/s: the same network and batch size."""
    fields = ("variant", "width", "batch_norm", "head", "batch_size")
    return all(getattr(config, name) == getattr(other, name) for name in fields)


def machine_gflops(config, runs):
    """(GFLOP/s, run name) this machine trains `config` at: measured by the newest run of the same shape,
    else by the newest run of a model big enough to keep the cores busy, else (DEFAULT_GFLOPS, None).
    Each epoch's images/s includes its validation pass, as a user waits for it; the first epoch is not
    counted, since it also starts the process and traces the model (a short epoch's speed is mostly that)."""
    measured = []
    for run in runs:
        with contextlib.suppress(UserError, KeyError):
            epochs, other = run.metrics().epochs[1:], run.config()
            if epochs:
                speed = statistics.median(row.images_per_second for row in epochs)
                measured.append((run.name, other, speed * training_flops_per_image(other) / 1e9))
    for name, other, gflops in measured:
        if same_shape(config, other):
            return gflops, name
    for name, other, gflops in measured:
        # Toy models (tests, tiny demos) leave the cores idle between small kernels: no guide to a real one.
        if training_flops_per_image(other) >= SMALLEST_MEASURING_FLOPS:
            return gflops, name
    return DEFAULT_GFLOPS, None


def estimate(config, train_images, runs):
    """The wall time of `config` on `train_images` images per epoch (vgg.runs.status.images_per_epoch) with
    its validation passes, from the speed of the newest measured run in `runs` (newest first)."""
    gflops, measured_by = machine_gflops(config, runs)
    # A validation pass is forward only: a third of a training step's work per image.
    work = config.epochs * (train_images + config.validation_size / 3) * training_flops_per_image(config)
    return Estimate(work / (gflops * 1e9), gflops, measured_by)


def parameter_count(config, num_classes=NUM_CLASSES):
    """The model's weights, from the settings alone: conv kernels and biases, batch-norm scales and shifts,
    and the head's Dense layers."""
    plan = convs(config.variant, config.width)
    per_channel = 3 if config.batch_norm else 1  # A bias, or batch norm's scale and shift beside it.
    count = sum(9 * conv.in_channels * conv.channels + per_channel * conv.channels for conv in plan)
    features = plan[-1].channels
    for units in (*hidden_sizes(config.head, features), num_classes):
        count += features * units + units
        features = units
    return count
