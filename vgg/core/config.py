"""One dataclass of training settings, the named presets, and the checks on both."""

import dataclasses
import json
import math
import shlex

from vgg.core.errors import UserError

VARIANTS = {"A": "VGG11", "B": "VGG13", "D": "VGG16", "E": "VGG19"}
# Conv output channels per block at full width, for each column of the paper's Table 1.
BLOCK_CHANNELS = {
    "A": ((64,), (128,), (256, 256), (512, 512), (512, 512)),
    "B": ((64, 64), (128, 128), (256, 256), (512, 512), (512, 512)),
    "D": ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512)),
    "E": ((64, 64), (128, 128), (256, 256, 256, 256), (512, 512, 512, 512), (512, 512, 512, 512)),
}
HEADS = ("paper", "small", "linear")
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "cosine")
INPUT_SCALINGS = ("unit", "standardize")
AUTO_CHOICES = ("auto", "on", "off")
PRECISIONS = ("auto", "off", "float16", "bfloat16")
# How often live views redraw and the server's queue pump looks for a free slot: TensorBoard reloads every few
# seconds too, and a watching class costs the server one read of the runs folder per interval.
REDRAW_SECONDS = 2.0


class SettingError(UserError, ValueError):
    """A setting a user chose that cannot work; its message is one sentence for the UI or CLI."""


@dataclasses.dataclass
class TrainConfig:
    variant: str = "D"  # Column of the paper's Table 1: A = VGG11, B = VGG13, D = VGG16, E = VGG19.
    width: float = 0.25  # Multiplier on every conv layer's channels; 1.0 is the paper's 64-128-256-512-512.
    batch_norm: bool = True  # Batch normalization after each conv: what lets a deep VGG learn from scratch.
    # Batch norms learn a scale per channel as well as a shift; off keeps every scale at 1 (airbench).
    batch_norm_scale: bool = True
    head: str = "small"  # Classifier: "paper" Dense 4096-4096, "small" one Dense layer, "linear" none.
    dropout_rate: float = 0.0  # Dropout before each Dense layer of the head.
    # "unit" divides pixels by 255 (the blog); "standardize" also subtracts the channel mean.
    input_scaling: str = "standardize"
    optimizer: str = "sgd"  # "sgd" (with Nesterov momentum), "adam" or "adamw".
    learning_rate: float = 0.1  # Peak learning rate, reached after the warm-up.
    schedule: str = "cosine"  # "constant", or "cosine": linear warm-up, then cosine decay to zero.
    warmup_epochs: float = 0.5  # Epochs of linear warm-up; large learning rates diverge without it.
    momentum: float = 0.9  # SGD momentum.
    # Keras' decoupled decay, times the learning rate each step; 5e-3 matches the usual L2 of 5e-4 under
    # momentum 0.9. 0 turns it off.
    weight_decay: float = 5e-3
    label_smoothing: float = 0.1  # Share of each target spread over the other classes.
    batch_size: int = 256  # Images per step; larger batches run faster per image on a CPU.
    epochs: int = 3  # Passes over the training set.
    # A length in minutes instead, when above 0: the run trains, epoch after epoch (the last one cut short), until
    # its final score ends this many minutes after its first step, its learning rate following the clock; `epochs`
    # is then ignored, since a run told to stop at an epoch count would end early and not at its budget.
    minutes: float = 0.0
    # From this epoch on, the final model averages the weights of every epoch's end (stochastic weight
    # averaging, Izmailov et al., 2018); 0 turns it off.
    average_from_epoch: int = 0
    # Every few steps, pull the weights back toward where they were at the last sync, more so near the end
    # (look-ahead, as airbench does): an averaged model's accuracy from a short run.
    lookahead: bool = False
    # Fix block 1's first conv to whiten the training images' 3x3 patches, and do not train it (airbench's
    # first layer); computed from the images before the first step, for runs from random weights.
    whiten: bool = False
    train_subset: int = 0  # Train on this many images (class-balanced); 0 means all of them.
    augment: bool = True  # Random crop with 4-pixel padding and horizontal flip of training images.
    # Flip each training image in every other epoch, from a seeded first choice per image, instead of by a coin
    # each time (airbench's alternating flips): any two epochs show every image both ways.
    alternate_flips: bool = False
    # Side of a random square blacked out of each augmented image (DeVries & Taylor, 2017); 0 turns it off.
    cutout_size: int = 0
    validation_size: int = 5000  # Images held out for validation when the data has no test split.
    # A trained .keras model (in the runs folder or assets/) whose weights start this run, widened if this
    # run is wider; "" starts from random weights.
    init_from: str = ""
    seed: int = 0  # Seed of the validation split, the shuffling, the augmentation and the initial weights.
    jit_compile: str = "auto"  # XLA: "auto" uses it on a GPU only; it slows VGG training on a CPU (BENCHMARKS.md).
    # "float16", "bfloat16" or "off"; "auto" picks what was measured fastest on the device: float16 on a GPU,
    # bfloat16 on a CPU with bfloat16 instructions (AMX or AVX-512 BF16), float32 on others (vgg/model/device.py).
    mixed_precision: str = "auto"
    log_every_seconds: float = 1.0  # How often a batch line is written to metrics.jsonl.

    def to_json(self):
        return json.dumps(dataclasses.asdict(self), indent=2)

    @classmethod
    def from_dict(cls, values):
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise SettingError(f"Unknown setting(s): {', '.join(unknown)}.")
        return cls(**values)

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


def _preset(**changes):
    return dataclasses.replace(TrainConfig(), **changes)


# The blog post's model and recipe, kept exactly so that its failure can be shown:
# no batch normalization, Dense 4096-4096, Adam at 1e-3, batch 32, pixels scaled to [0, 1].
BLOG = _preset(
    width=1.0,
    batch_norm=False,
    head="paper",
    input_scaling="unit",
    optimizer="adam",
    learning_rate=1e-3,
    schedule="constant",
    warmup_epochs=0.0,
    weight_decay=0.0,
    label_smoothing=0.0,
    batch_size=32,
    epochs=10,
    augment=False,
    jit_compile="off",
    mixed_precision="off",  # The blog's float32, on any machine.
)

# The validation size and seed of the app's data, of the shipped model's scores and of `evaluate --model`.
DEFAULT_SPLIT = (TrainConfig.validation_size, TrainConfig.seed)

DEFAULT_PRESET = "cpu"  # What the Train page and `python -m vgg train` start from.
PRESETS = {
    # Sized for a 2-core CPU: the 13-conv topology at a quarter of the width, its first layer a fixed whitening
    # (1.4 points more after a five-minute run: BENCHMARKS.md).
    "cpu": _preset(width=0.25, epochs=5, batch_size=256, learning_rate=0.1, whiten=True),
    # Between the two: half width, for the shipped model and for patient CPUs.
    "half": _preset(width=0.5, epochs=70, batch_size=128, learning_rate=0.1, warmup_epochs=1.0, dropout_rate=0.2),
    # The paper's full width with batch normalization, for a GPU.
    "gpu": _preset(width=1.0, epochs=60, batch_size=128, learning_rate=0.05, dropout_rate=0.3),
    "blog": BLOG,
    # The blog's recipe on 3,000 images for one epoch: its plateau at ln 10 within a lesson's minutes. It checks
    # on 1,000 validation images (1.5 points of standard error at 35%, plenty to tell learning from 10%), since
    # every image costs the full-width network's forward pass twice, at each epoch's end and in the final score.
    "blog-short": BLOG.replace(train_subset=3000, epochs=1, validation_size=1000),
}

PRESET_DESCRIPTIONS = {
    "cpu": "VGG16 at quarter width with batch norm: learns within minutes on a 2-core CPU.",
    "half": "VGG16 at half width with batch norm: the shipped model's recipe.",
    "gpu": "Full-width VGG16 with batch norm, cosine schedule and augmentation: for a GPU.",
    "blog": (
        "The blog post's recipe: VGG16 without batch norm, Dense 4096-4096, Adam 1e-3, batch 32. It does not learn."
    ),
    "blog-short": "The blog's recipe on 3,000 images for one epoch: its failure, shown in under two minutes.",
}


def preset(name):
    if name not in PRESETS:
        raise SettingError(f"Unknown preset {name!r}; choose one of {', '.join(PRESETS)}.")
    return PRESETS[name]


def changes_from_preset(config, preset_name):
    """{setting: value} of every setting of `config` that differs from its preset (the cpu preset when it
    names none), in the dataclass's order."""
    base = preset(preset_name) if preset_name in PRESETS else preset(DEFAULT_PRESET)
    return {
        field.name: getattr(config, field.name)
        for field in dataclasses.fields(TrainConfig)
        if getattr(config, field.name) != getattr(base, field.name)
    }


def train_command(config, preset_name, data_dir):
    """The `python -m vgg train` command that rebuilds `config`: the preset, then every setting that
    differs from it, so the command stays exact even after the preset changes."""
    parts = ["python -m vgg train", f"--preset {preset_name if preset_name in PRESETS else DEFAULT_PRESET}"]
    if data_dir:
        parts.append(f"--data-dir {shlex.quote(str(data_dir))}")
    for name, value in changes_from_preset(config, preset_name).items():
        option = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            parts.append(option if value else "--no-" + option[2:])
        else:
            parts.append(f"{option} {shlex.quote(str(value))}")
    return " ".join(parts)


def _check_range(name, value, low, high):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SettingError(f"{name} must be a number. Received: {name}={value!r}")
    if not low <= value <= high:
        raise SettingError(f"{name} must be between {low} and {high}. Received: {name}={value!r}")


def _check_choice(name, value, choices):
    if value not in choices:
        raise SettingError(f"{name} must be one of {', '.join(map(str, choices))}. Received: {name}={value!r}")


# The range each numeric setting may take: `validate` refuses values outside it, and the Train page's
# widgets offer exactly these limits. `average_from_epoch` is also capped by `epochs` (see validate).
RANGES = {
    "width": (1 / 64, 2.0),
    "dropout_rate": (0.0, 0.9),
    "learning_rate": (1e-7, 10.0),
    "warmup_epochs": (0.0, 1000.0),
    "momentum": (0.0, 0.999),
    "weight_decay": (0.0, 0.1),
    "label_smoothing": (0.0, 0.5),
    "batch_size": (1, 4096),
    "epochs": (1, 1000),
    "minutes": (0.0, 6000.0),
    "average_from_epoch": (0, 1000),
    "train_subset": (0, 10_000_000),
    "cutout_size": (0, 32),
    "validation_size": (0, 1_000_000),
    "seed": (0, 2**31 - 1),
    "log_every_seconds": (0.0, 3600.0),
}
CHOICES = {
    "variant": tuple(VARIANTS),
    "head": HEADS,
    "input_scaling": INPUT_SCALINGS,
    "optimizer": OPTIMIZERS,
    "schedule": SCHEDULES,
    "jit_compile": AUTO_CHOICES,
    "mixed_precision": PRECISIONS,
}


SHORTEST_MINUTES = 0.1  # A budget shorter than this is spent on the final score alone.


def _check_budget(config):
    """A length in minutes: long enough to train at all, and without the settings that count epochs ahead."""
    if 0 < config.minutes < SHORTEST_MINUTES:
        raise SettingError(
            f"minutes must be 0 (a length in epochs) or at least {SHORTEST_MINUTES}. "
            f"Received: minutes={config.minutes!r}"
        )
    for name, off in (("average_from_epoch", 0), ("lookahead", False)):
        if config.minutes and getattr(config, name) != off:
            raise SettingError(
                f"{name} counts the run's epochs ahead, which a run given minutes cannot: give it epochs or set "
                f"{name} to {str(off).lower()}. Received: {name}={getattr(config, name)!r}, minutes={config.minutes!r}"
            )


def epoch_cap(config):
    """The epochs a run may train: its `epochs`, or as many as any run may when its length is in minutes."""
    return RANGES["epochs"][1] if config.minutes else config.epochs


def validate(config):
    """Refuses settings that cannot work, with one sentence naming the setting; returns the config."""
    for name, choices in CHOICES.items():
        _check_choice(name, getattr(config, name), choices)
    for name, (low, high) in RANGES.items():
        _check_range(name, getattr(config, name), low, high)
    _check_range("average_from_epoch", config.average_from_epoch, 0, config.epochs)
    for name in (
        "batch_size",
        "epochs",
        "average_from_epoch",
        "train_subset",
        "cutout_size",
        "validation_size",
        "seed",
    ):
        if not isinstance(getattr(config, name), int):
            raise SettingError(f"{name} must be a whole number. Received: {name}={getattr(config, name)!r}")
    for name in ("batch_norm", "batch_norm_scale", "augment", "alternate_flips", "lookahead", "whiten"):
        if not isinstance(getattr(config, name), bool):
            raise SettingError(f"{name} must be true or false. Received: {name}={getattr(config, name)!r}")
    _check_budget(config)
    for name, off in (("cutout_size", 0), ("alternate_flips", False)):
        if getattr(config, name) != off and not config.augment:
            raise SettingError(
                f"{name} is part of augmentation: turn augment on or set it to {str(off).lower()}. "
                f"Received: {name}={getattr(config, name)!r}, augment=False"
            )
    return config
