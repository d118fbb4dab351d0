"""Training settings in words for people ("a quarter of the width, 2,000 training images"), not config names."""

WIDTHS = {
    0.125: "an eighth of the width",
    0.25: "a quarter of the width",
    0.5: "half the width",
    1.0: "the paper's full width",
}
HEADS = {"paper": "the paper's two dense layers of 4,096", "small": "one dense layer", "linear": "no dense layer"}
OPTIMIZERS = {"sgd": "SGD with momentum", "adam": "the Adam optimizer", "adamw": "the AdamW optimizer"}
SCHEDULES = {"constant": "a constant learning rate", "cosine": "a learning rate that warms up, then decays"}


def _count(value, one, many):
    return f"{value:,} {one if value == 1 else many}"


# Each setting a person changes, in words; a setting missing here reads "<name with spaces> <value>".
WORDS = {
    "width": lambda value: WIDTHS.get(value, f"{value:g} of the width"),
    "batch_norm": lambda value: "batch norm on" if value else "no batch norm",
    "head": lambda value: HEADS.get(value, f"head {value}"),
    "optimizer": lambda value: OPTIMIZERS.get(value, value),
    "learning_rate": lambda value: f"a learning rate of {value:g}",
    "schedule": lambda value: SCHEDULES.get(value, f"schedule {value}"),
    "epochs": lambda value: _count(value, "epoch", "epochs"),
    "minutes": lambda value: f"{value:g} min of training" if value else "a length in epochs",
    "batch_size": lambda value: f"batches of {_count(value, 'image', 'images')}",
    "train_subset": lambda value: _count(value, "training image", "training images") if value else "every image",
    "validation_size": lambda value: _count(value, "validation image", "validation images"),
    "augment": lambda value: "flips and shifts" if value else "no flips or shifts",
    "weight_decay": lambda value: f"weight decay {value:g}" if value else "no weight decay",
    "label_smoothing": lambda value: f"label smoothing {value:g}" if value else "no label smoothing",
    "dropout_rate": lambda value: f"dropout {value:.0%}" if value else "no dropout",
    "warmup_epochs": lambda value: f"{value:g} epochs of warm-up" if value else "no warm-up",
}


# Settings that change how a run computes or logs, not what it learns from: said nowhere a student reads.
UNSAID_SETTINGS = {"seed", "jit_compile", "mixed_precision", "log_every_seconds", "init_from"}


def setting_words(name, value):
    """One setting in words: setting_words("width", 0.25) == "a quarter of the width"."""
    words = WORDS.get(name)
    return words(value) if words else f"{name.replace('_', ' ')} {value}"


def settings_words(changes):
    """{setting: value} in words, joined: "a quarter of the width, 2,000 training images"."""
    return ", ".join(setting_words(name, value) for name, value in changes.items() if name not in UNSAID_SETTINGS)
