"""The doctor's fixes: for each verdict, why to change what, in one sentence, and the TrainConfig changes that the
"Start the fixed run" button applies."""

from vgg.classroom.symptoms import SLOW_UPDATE_RATIO, Verdict, peak_update_ratio
from vgg.core.config import RANGES

# Adam's learning rate above which batch norm alone leaves the blog's Dense 4096 layers dead within a short run
# (blog-short with batch norm: fc1 98% dead, 10% accuracy; with 1e-4 too it learns: BENCHMARKS.md).
DENSE_HEAD_ADAM_RATE = 1e-4


# --- Fixes: (why, in one sentence; TrainConfig changes) --------------------------------------------------------


def lower_learning_rate(case, why):
    config = case.config
    changes = {"learning_rate": max(RANGES["learning_rate"][0], config.learning_rate / 10)}
    warm_up = config.schedule == "cosine" and config.warmup_epochs < 1
    if warm_up:
        changes["warmup_epochs"] = 1.0
    return (
        f"Try a learning rate of {changes['learning_rate']:g} instead of {config.learning_rate:g}"
        + (" with a one-epoch warm-up" if warm_up else "")
        + f": {why}",
        changes,
    )


def fix_diverged(case):
    peak = peak_update_ratio(case.diagnostics.probes)
    size = f" (one step changed some weights by {peak:.2g} times their size)" if peak and peak > 0.1 else ""
    return lower_learning_rate(
        case,
        f"smaller steps keep each update a small fraction of the weights{size}, and a "
        f"warm-up keeps the first steps, whose gradients are the largest, small.",
    )


def turn_batch_norm_on(config, why):
    """Batch norm on, with smaller steps too where it is not enough alone: an adaptive optimizer's large steps
    kill a Dense 4096 head that batch norm does not reach."""
    if config.head == "paper" and config.optimizer != "sgd" and config.learning_rate > DENSE_HEAD_ADAM_RATE:
        return (
            f"Turn batch normalization on and lower the learning rate from {config.learning_rate:g} to "
            f"{DENSE_HEAD_ADAM_RATE:g}: batch norm because {why[0].lower()}{why[1:-1]}, and the smaller steps "
            "because the two Dense 4096 layers have no batch norm, and steps as large as these kill their ReLUs "
            "within the first epoch (the replay shows batch norm alone stuck at chance).",
            {"batch_norm": True, "learning_rate": DENSE_HEAD_ADAM_RATE},
        )
    return f"Turn batch normalization on: {why}", {"batch_norm": True}


def fix_stuck(case):
    if not case.config.batch_norm:
        return turn_batch_norm_on(
            case.config,
            "it re-centres and re-scales every conv's output, so the signal keeps its size through all the layers "
            "instead of fading until every image looks alike, and the ReLUs stay alive.",
        )
    if (peak_update_ratio(case.diagnostics.probes) or 1) < SLOW_UPDATE_RATIO:
        return fix_too_slow(case)  # Batch norm is on and the weights barely move: the steps are too small.
    return fix_dead_relus(case)


def fix_too_slow(case):
    config = case.config
    rate = min(RANGES["learning_rate"][1], config.learning_rate * 10)
    return (
        f"Try a learning rate of {rate:g} instead of {config.learning_rate:g}: each step now moves "
        "the weights by less than 1/10,000 of their size, so a run of a few epochs gets almost nowhere.",
        {"learning_rate": rate},
    )


def fix_dead_relus(case):
    if not case.config.batch_norm:
        return turn_batch_norm_on(
            case.config,
            "it keeps every ReLU's input centred on zero, so no channel is pushed below zero "
            "for every image, where it would get no gradient to come back.",
        )
    return lower_learning_rate(
        case,
        "a large step can push a ReLU's input below zero for every image, after "
        "which no gradient revives it; smaller first steps keep the channels alive.",
    )


def fix_vanishing(case):
    config = case.config
    if not config.batch_norm:
        return turn_batch_norm_on(
            config,
            "it rescales every layer's output to a standard size, so the gradient reaches the first blocks as "
            "strong as the last (He initialization would help too, but is not a setting here).",
        )
    if config.input_scaling == "unit":
        return (
            "Standardize the input pixels: centred inputs keep the first block's gradient from being "
            "dwarfed by the later ones.",
            {"input_scaling": "standardize"},
        )
    shallower = {"E": "D", "D": "B", "B": "A"}.get(config.variant)
    if shallower is None:
        return None, {}  # VGG11 with batch norm and standardized pixels: no setting left to try.
    return (
        f"Try a shallower network (variant {shallower}): fewer layers for the gradient to cross on its "
        "way back to the first block.",
        {"variant": shallower},
    )


def fix_overfitting(case):
    config = case.config
    if not config.augment:
        return (
            "Turn augmentation on: random crops and flips show the network a new variant of each image every "
            "epoch, so memorizing the training images stops paying.",
            {"augment": True},
        )
    if not config.cutout_size:
        return (
            "Add cutout (12 pixels): hiding a random square of each image makes memorizing it harder still.",
            {"cutout_size": 12},
        )
    if config.train_subset:
        return (
            "Train on all the images: more examples of each class leave less room to memorize.",
            {"train_subset": 0},
        )
    rate = round(min(0.5, config.dropout_rate + 0.2), 2)
    return (
        f"Raise dropout to {rate}: dropping units at random stops the head from relying on any one feature.",
        {"dropout_rate": rate},
    )


FIXES = {
    Verdict.DIVERGED: fix_diverged,
    Verdict.STUCK: fix_stuck,
    Verdict.TOO_SLOW: fix_too_slow,
    Verdict.DEAD_RELUS: fix_dead_relus,
    Verdict.VANISHING: fix_vanishing,
    Verdict.OVERFITTING: fix_overfitting,
}
