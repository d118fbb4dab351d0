"""The Train page's settings: a preset and the few settings a lesson changes first, the rest folded
under "Advanced", and what the run will cost on this machine before anyone presses Start."""

import streamlit as st

from app_pages.caches import runs_dir
from vgg.core.config import OPTIMIZERS, PRESET_DESCRIPTIONS, PRESETS, RANGES, SHORTEST_MINUTES, VARIANTS
from vgg.core.estimate import estimate
from vgg.core.phases import SHORT_WORDS
from vgg.data.cifar10 import CUTOUT_SIZES
from vgg.runs.folder import list_runs
from vgg.runs.metrics import format_duration
from vgg.runs.status import images_per_epoch

WIDTHS = (0.125, 0.25, 0.375, 0.5, 0.75, 1.0)
BATCH_SIZES = (8, 16, 32, 64, 128, 256, 512)


def preset_ui():
    """Returns the chosen preset's name; its sentence shows under the choice."""
    return st.selectbox(
        "Preset",
        list(PRESETS),
        key="preset",
        help="A preset fills in every setting; change any of them below before pressing Start.",
    )


LENGTHS = ("epochs", "minutes")
DEFAULT_MINUTES = 2.0


def length_ui(preset, key, columns):
    """The run's length, in epochs or in minutes as the user chooses: (epochs, minutes), minutes 0 for epochs."""
    # A select box, not a segmented control: as tall as the number inputs beside it, so the row's labels line up.
    unit = columns[0].selectbox(
        "Length in",
        LENGTHS,
        key=key + "length",
        help="Epochs: passes over the training images. Minutes: the run trains until its final score ends this "
        "many minutes after its first step, as many epochs as fit, the last one cut short.",
    )
    if unit == "minutes":
        minutes = columns[1].number_input(
            "Minutes",
            max(SHORTEST_MINUTES, RANGES["minutes"][0]),
            RANGES["minutes"][1],
            DEFAULT_MINUTES,
            step=0.5,
            format="%.1f",
            key=key + "minutes",
            help="Training time after the data and model are ready (about half a minute): the learning rate falls "
            "to 0 as the time runs out, and the final score ends on the minute.",
        )
        return preset.epochs, float(minutes)
    epochs = columns[1].number_input(
        "Epochs",
        *RANGES["epochs"],
        preset.epochs,
        key=key + "epochs",
        help="Passes over the training images. The learning rate falls to 0 at the last one, on purpose: "
        "small final steps settle the weights.",
    )
    return int(epochs), 0.0


def main_settings_ui(preset, key, columns):
    """The settings a lesson changes first: (epochs, minutes, training images)."""
    epochs, minutes = length_ui(preset, key, columns[:2])
    train_subset = columns[2].number_input(
        "Images (0 = all)",
        *RANGES["train_subset"],
        preset.train_subset,
        step=1000,
        key=key + "train_subset",
        help="Training images: a class-balanced subset of them when above 0; smaller runs finish sooner.",
    )
    return epochs, minutes, int(train_subset)


def advanced_settings_ui(preset, key):
    """Every other setting, folded away, in three rows (the model, its optimizer, its images); returns them as
    TrainConfig fields."""
    with st.expander("Advanced settings: model, optimizer, batch, augmentation"):
        columns = st.columns(3)
        return (
            model_row_ui(columns, preset, key)
            | optimizer_row_ui(columns, preset, key)
            | images_row_ui(columns, preset, key)
        )


def model_row_ui(columns, preset, key):
    variant = columns[0].selectbox(
        "VGG variant",
        list(VARIANTS),
        index=list(VARIANTS).index(preset.variant),
        format_func=lambda name: f"{VARIANTS[name]} ({name})",
        key=key + "variant",
    )
    width = columns[1].select_slider(
        "Width",
        WIDTHS,
        value=preset.width,
        key=key + "width",
        help="Multiplier on every conv layer's channels: 1.0 is the paper's 64-128-256-512-512. "
        "Cost grows with its square.",
    )
    batch_norm = columns[2].checkbox(
        "Batch normalization",
        preset.batch_norm,
        key=key + "batch_norm",
        help="Without it, VGG16 trained from scratch often never learns: see the blog preset.",
    )
    return dict(variant=variant, width=float(width), batch_norm=batch_norm)


def optimizer_row_ui(columns, preset, key):
    optimizer = columns[0].selectbox(
        "Optimizer", OPTIMIZERS, index=OPTIMIZERS.index(preset.optimizer), key=key + "optimizer"
    )
    learning_rate = columns[1].number_input(
        "Learning rate",
        *RANGES["learning_rate"],
        float(preset.learning_rate),
        format="%.4f",
        key=key + "learning_rate",
        help="How big a step each batch takes. Too big diverges; too small crawls.",
    )
    batch_size = columns[2].select_slider("Batch size", BATCH_SIZES, value=preset.batch_size, key=key + "batch_size")
    return dict(optimizer=optimizer, learning_rate=float(learning_rate), batch_size=int(batch_size))


def images_row_ui(columns, preset, key):
    augment = columns[0].checkbox("Augmentation (crop + flip)", preset.augment, key=key + "augment")
    cutout_size = columns[1].select_slider(
        "Cutout square (pixels)",
        CUTOUT_SIZES,
        value=preset.cutout_size,
        key=key + "cutout_size",
        disabled=not augment,
        help="Blacks out a random square of each training image, so the network cannot rely on one part "
        "of an object (DeVries & Taylor, 2017, found it helps long runs). 0 turns it off.",
    )
    whiten = columns[2].checkbox(
        "Whitened first layer",
        preset.whiten,
        key=key + "whiten",
        help="Block 1's first conv is set, before training, to filters that decorrelate the images' 3x3 "
        "patches, and is not trained (as airbench does): a short run learns faster.",
    )
    return dict(augment=augment, cutout_size=int(cutout_size) if augment else 0, whiten=whiten)


def estimate_text(config):
    """'about 1 min 40 s on this machine (15 s preparing, 1 min training, ...)', with whose times it comes from."""
    guess = estimate(config, images_per_epoch(config), list_runs(runs_dir()))
    parts = ", ".join(
        f"{format_duration(seconds)} {SHORT_WORDS[phase]}" for phase, seconds in guess.phases.items() if seconds >= 0.5
    )
    if guess.measured_by:
        source = f"timed by run “{guess.measured_title or guess.measured_by}” here"
    else:
        source = "a guess until a first run times this machine"
    return f"Estimated time: **about {format_duration(guess.seconds)}** on this machine: {parts} ({source})."


def settings_ui():
    """Returns (preset name, TrainConfig, the column where the caller draws Start) as the user set them;
    widgets reset when the preset changes."""
    top = st.columns([2.6, 1.3, 1, 1.3, 1.3], vertical_alignment="bottom")
    with top[0]:
        preset_name = preset_ui()
    preset = PRESETS[preset_name]
    # Keys carry the preset's name, so choosing another preset shows its values, not stale ones.
    key = f"{preset_name}_"
    epochs, minutes, train_subset = main_settings_ui(preset, key, top[1:4])
    cost = st.empty()  # Above the folded settings, filled once they are read.
    advanced = advanced_settings_ui(preset, key)
    config = preset.replace(epochs=epochs, minutes=minutes, train_subset=train_subset, **advanced)
    cost.caption(f"{PRESET_DESCRIPTIONS[preset_name]} {estimate_text(config)}")
    return preset_name, config, top[4]
