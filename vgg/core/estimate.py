"""How long a run will take here, before it starts: the sum of its phases (vgg/core/phases.py), each its amount
of work times the seconds per unit of work that an earlier finished run measured on this machine.

Work is counted from the settings alone (no TensorFlow), so the Train page can say "about 1 h 40 min on this
machine" while the user is still choosing: floating-point operations for training, validating and scoring, weights
for saving, and a fixed time for preparing.
"""

import contextlib
import dataclasses
import os
import statistics

from vgg.core.cifar10 import NUM_CLASSES
from vgg.core.errors import UserError
from vgg.core.layers import convs, hidden_sizes
from vgg.core.phases import AVERAGING, PHASES, PREPARING, SAVING, SCORING, TRAINING, VALIDATING

# Training images a model's nearest-images index holds (vgg/explain/neighbours.py): tens of MB in memory at width 0.5
# (BENCHMARKS.md has the cost); here too, as the disk a finished run takes counts them.
INDEX_IMAGES = 10_000
# What the slower of the 2-core CPUs this project runs on sustains on VGG training in float32 (the cpu preset
# at about 110 GFLOP/s on the Intel Xeon, 240 on the AMD EPYC: BENCHMARKS.md), until a run here measures it.
DEFAULT_GFLOPS = 110.0
# The blog preset's model (33.6 million weights, the largest a class trains) as the server holds it, loaded and
# traced: 300 MB (BENCHMARKS.md). Loaded models may fill a quarter of the machine's memory; the rest is the data,
# the uploads, the sessions and a training run.
MODEL_MEMORY_BYTES = 300 * 2**20
MODELS_MEMORY_SHARE = 0.25
SMALLEST_MEASURING_FLOPS = 0.1e9  # The cpu preset's 0.12 GFLOP per image and up measure the machine fairly.
# Until a run here measures them: starting Python and TensorFlow, loading the images and tracing the first step
# (28-34 s for the cpu preset on machine D, busy: BENCHMARKS.md, "Estimate against actual"), and writing a
# checkpoint (about 40 MB/s of float32 weights with the optimizer's two copies beside them).
DEFAULT_PREPARING_SECONDS = 30.0
DEFAULT_SAVING_SECONDS_PER_WEIGHT = 3 * 4 / 40e6


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
    gflops: float  # The training speed it assumed.
    measured_by: str | None  # The run whose records gave the speeds; None for the defaults.
    measured_title: str | None = None  # That run's title, when its starter gave it one.
    phases: dict = dataclasses.field(default_factory=dict)  # {phase: seconds}, in the phases' order.


def same_shape(config, other):
    """Whether two settings train at the same images/s: the same network, batch size and precision setting."""
    fields = ("variant", "width", "batch_norm", "head", "batch_size", "mixed_precision")
    return all(getattr(config, name) == getattr(other, name) for name in fields)


def stand_in(config, candidates):
    """The first of `candidates` ((settings, measure), newest first) whose model is big enough to keep the cores
    busy, one of the same precision setting first: a CPU with bfloat16 trains the presets 1.2x to 1.6x faster than
    the blog's float32 (BENCHMARKS.md). None when none is big enough."""
    big = [(other, found) for other, found in candidates if training_flops_per_image(other) >= SMALLEST_MEASURING_FLOPS]
    alike = [found for other, found in big if other.mixed_precision == config.mixed_precision]
    return alike[0] if alike else big[0][1] if big else None


def phase_work(config, train_images, val_images):
    """{phase: units of work} of a run: FLOPs for training, validating (forward only, a third of a training
    step), averaging and scoring (both views of each image when it trains on flips, as the final score averages
    them); weights for saving, a checkpoint per epoch and the final model; 1 for preparing, a fixed time."""
    flops = training_flops_per_image(config)
    work = {
        PREPARING: 1.0,
        TRAINING: config.epochs * train_images * flops,
        VALIDATING: config.epochs * val_images * flops / 3,
        SAVING: (config.epochs + 1) * parameter_count(config),
        SCORING: val_images * (2 if config.augment else 1) * flops / 3,
    }
    if config.average_from_epoch:
        work[AVERAGING] = train_images * flops / 3  # One forward pass over the training images.
    return work


@dataclasses.dataclass(frozen=True)
class Calibration:
    name: str
    title: str | None
    config: object
    rates: dict  # {phase: seconds per unit of work}.


def calibration_of(run):
    """The seconds per unit of each phase a finished run measured, or None: a run that never recorded its phases,
    or one resumed (its preparing counts twice, and the epoch it cut short is trained twice)."""
    status = run.status()
    if status.state != "finished" or status.resumed or not status.phase_seconds or not status.train_images:
        return None
    config = run.config()
    if config.minutes:  # Its work was the epochs it fitted into its budget, the last one maybe cut short.
        rows = run.metrics().epochs
        if not rows:
            return None
        config = config.replace(epochs=rows[-1].epoch)
    work = phase_work(config, status.train_images, status.val_images or 0)
    rates = {
        phase: seconds / work[phase]
        for phase, seconds in status.phase_seconds.items()
        if work.get(phase) and isinstance(seconds, (int, float)) and seconds > 0
    }
    return Calibration(run.name, status.title, config, rates) if TRAINING in rates else None


def calibration(config, runs):
    """The newest finished run in `runs` (newest first) with phase records, of the same shape as `config`, else
    of a model big enough to keep the cores busy; None when none has them."""
    others = []
    for run in runs:
        with contextlib.suppress(UserError, KeyError):
            found = calibration_of(run)
            if found is None:
                continue
            if same_shape(config, found.config):
                return found
            others.append((found.config, found))
    # Toy models (tests, tiny demos) leave the cores idle between small kernels: no guide to a real one.
    return stand_in(config, others)


def machine_gflops(config, runs):
    """(GFLOP/s, run name) this machine trains `config` at, from epoch rows alone (runs without phase records):
    measured by the newest run of the same shape, else by the newest run of a model big enough, else
    (DEFAULT_GFLOPS, None). Each epoch's images/s includes its validation pass, as a user waits for it; the first
    epoch is not counted, since it also starts the process and traces the model."""
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
    return stand_in(config, [(other, (gflops, name)) for name, other, gflops in measured]) or (DEFAULT_GFLOPS, None)


def default_rates(gflops):
    """Seconds per unit of each phase at `gflops` GFLOP/s, with the defaults for preparing and saving."""
    per_flop = 1 / (gflops * 1e9)
    return {
        PREPARING: DEFAULT_PREPARING_SECONDS,
        TRAINING: per_flop,
        VALIDATING: per_flop,
        SAVING: DEFAULT_SAVING_SECONDS_PER_WEIGHT,
        AVERAGING: per_flop,
        SCORING: per_flop,
    }


def estimate(config, train_images, runs, val_images=None):
    """The wall time of a run of `config` on `train_images` images per epoch (vgg.runs.status.images_per_epoch)
    and `val_images` validation images (its settings' split when None), phase by phase, from the newest finished
    run in `runs` (newest first) that measured its phases here, else from epoch rows' speed, else a guess."""
    val_images = config.validation_size if val_images is None else val_images
    work = phase_work(config, train_images, val_images)
    found = calibration(config, runs)
    if found is not None:
        gflops, measured_by = 1 / (found.rates[TRAINING] * 1e9), found.name
    else:
        gflops, measured_by = machine_gflops(config, runs)
    rates = default_rates(gflops) | (found.rates if found else {})
    phases = {phase: work[phase] * rates[phase] for phase in PHASES if phase in work}
    if config.minutes:  # Its budget holds every phase after preparing (vgg/training/time_budget.py).
        phases = {PREPARING: phases[PREPARING], TRAINING: config.minutes * 60}
    title = found.title if found else None
    return Estimate(sum(phases.values()), gflops, measured_by, title, phases)


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


def analyses_bytes(config):
    """About the disk the analyses a finished run prepares for its pages take beside its model (vgg/explain/ready.py):
    mostly its index of training images, one float16 per image and channel of each block's last conv; its
    evaluation, top images and pictures add a few hundred KB."""
    pooled = sum(conv.channels for conv in convs(config.variant, config.width) if conv.ends_block)
    return 2 * INDEX_IMAGES * pooled + 1_000_000


def models_kept(memory_bytes=None):
    """How many loaded models the server keeps (at least 2, to compare two): its share of the machine's memory
    (`memory_bytes`, this machine's when None) over the largest model's."""
    if memory_bytes is None:
        memory_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return max(2, int(memory_bytes * MODELS_MEMORY_SHARE // MODEL_MEMORY_BYTES))
