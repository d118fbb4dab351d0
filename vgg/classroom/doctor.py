"""The training doctor: a run's probes (vgg/runs/diagnostics.py) and metrics turned into one verdict, the numbers
behind it, and the settings to try next. The rules, first match wins:
1. diverged: a NaN or infinite loss, weight or gradient, or a training loss above 3 ln 10 that never came
   back under ln 10;
2. stuck at chance: on the last two probes the loss is within 0.02 of ln 10 and the softmax varies across
   the probe images by less than 0.001: the same answer for every image;
3. learning too slowly: no unit's weights ever moved by 1/10,000 of their size in one step (1/1,000 is
   typical) and the training loss fell by less than a tenth;
4. dead ReLUs: on the last two probes, half of a conv block's channels or 90% of a Dense layer's units
   are zero for every probe image (a healthy Dense head is sparse);
5. vanishing gradients: on the last two probes, block 1's gradient per unit of its weights is below
   1/100 of the largest of the units from block 5 on;
6. overfitting: training accuracy 20 points above validation, the gap 10 points wider than at its narrowest;
7. healthy: none of these; with fewer than two probes and nothing else found, the doctor waits.
"""

import dataclasses
import enum
import math

from vgg.core.config import RANGES, validate
from vgg.runs.diagnostics import LN10, read_diagnostics

CHANCE_TOLERANCE = 0.02  # |probe loss - ln 10| below this is guessing.
SAME_ANSWER_SPREAD = 1e-3  # The blog's network varied by ~1e-6; a fresh batch-norm network by ~1e-2.
EXPLODED_LOSS = 3 * LN10
SLOW_UPDATE_RATIO = 1e-4  # Karpathy's rule of thumb puts a healthy step near 1e-3 of the weights.
SLOW_PROGRESS = 0.1  # Share of the first training loss a slow run has not even lost.
DEAD_FRACTION = 0.5  # Of a conv block's channels: behind batch norm they hardly ever die (0% in the shipped model).
DEAD_DENSE_FRACTION = 0.9  # Of a Dense layer's units: the shipped model's fc1 has 30% dead, the cpu preset's 66% early.
VANISHING_RATIO = 1e-2  # Two orders of magnitude.
OVERFIT_GAP = 0.2
GAP_GROWTH = 0.1
PERSISTENT_PROBES = 2  # A symptom counts when it holds on this many probes in a row, not on one.
LATE_START = "block5"  # It and every unit after the conv blocks: where the gradient starts out.


class Verdict(enum.StrEnum):
    WAITING = "waiting"
    HEALTHY = "healthy"
    DIVERGED = "diverged"
    STUCK = "stuck at chance"
    TOO_SLOW = "learning too slowly"
    DEAD_RELUS = "dead ReLUs"
    VANISHING = "vanishing gradients"
    OVERFITTING = "overfitting"


@dataclasses.dataclass(frozen=True)
class Diagnosis:
    verdict: Verdict
    sentence: str  # The verdict in one plain sentence with the numbers that support it.
    evidence: dict  # Those numbers by name, JSON-able, for a table or --json.
    fix_sentence: str | None = None  # What to try and why; None when healthy or waiting.
    fix_changes: dict = dataclasses.field(default_factory=dict)  # TrainConfig field -> new value.
    findings: tuple = ()  # Every rule that held, the verdict first.
    step: int | None = None  # Of the latest probe.

    def fixed_config(self, config):
        """The settings of the run to start next: `config` with the fix applied, validated."""
        return validate(config.replace(**self.fix_changes))

    def to_dict(self):
        return dataclasses.asdict(self) | {"verdict": str(self.verdict), "findings": [str(f) for f in self.findings]}


@dataclasses.dataclass(frozen=True)
class Finding:
    verdict: Verdict
    sentence: str
    evidence: dict


@dataclasses.dataclass(frozen=True)
class Case:
    """What the rules read: the run's settings, probes and metrics."""

    config: object
    diagnostics: object
    metrics: object

    def recent(self):
        probes = self.diagnostics.probes
        return probes[-PERSISTENT_PROBES:] if len(probes) >= PERSISTENT_PROBES else ()


def diagnose(run):
    """The verdict on `run` as it stands; a damaged file raises its one-sentence UserError."""
    return diagnose_records(run.config(), read_diagnostics(run), run.metrics())


def diagnose_records(config, diagnostics, metrics):
    case = Case(config, diagnostics, metrics)
    findings = [finding for rule in RULES if (finding := rule(case)) is not None]
    latest = diagnostics.latest
    step = latest.step if latest else None
    if not findings:
        return waiting(case, step) if len(diagnostics.probes) < PERSISTENT_PROBES else healthy(case, step)
    first = findings[0]
    fix_sentence, changes = FIXES[first.verdict](case)
    return Diagnosis(
        first.verdict,
        first.sentence,
        first.evidence,
        fix_sentence,
        changes,
        tuple(finding.verdict for finding in findings),
        step,
    )


# --- Measures --------------------------------------------------------------------------------------------------


def relative_gradient(unit):
    return unit.gradient_norm / unit.weight_norm if unit.weight_norm > 0 else math.nan


def dead_units(probe):
    """{unit: dead fraction} of the units dead enough to matter."""
    return {
        unit.name: unit.dead_fraction
        for unit in probe.units
        if unit.dead_fraction is not None
        and unit.dead_fraction >= (DEAD_FRACTION if unit.name.startswith("block") else DEAD_DENSE_FRACTION)
    }


def gradient_fade(probe):
    """(block 1's relative gradient over the largest from block 5 on, that late unit), or (None, None)."""
    names = [unit.name for unit in probe.units]
    late = max(probe.units[names.index(LATE_START) if LATE_START in names else -1 :], key=relative_gradient)
    first, strongest = relative_gradient(probe.units[0]), relative_gradient(late)
    if not (math.isfinite(first) and math.isfinite(strongest)) or strongest <= 0:
        return None, None
    return first / strongest, late


def peak_update_ratio(probes):
    ratios = [
        unit.update_ratio
        for probe in probes
        for unit in probe.units
        if unit.update_ratio is not None and math.isfinite(unit.update_ratio)
    ]
    return max(ratios, default=None)


def listing(parts, limit=4):
    """'a', 'a and b', 'a, b and c', 'a, b, c and 4 more'."""
    parts = list(parts)
    if len(parts) > limit:
        parts = [*parts[: limit - 1], f"{len(parts) - limit + 1} more"]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def unit_label(name):
    """How a sentence names a unit: 'block 5', 'fc1', 'the output layer'."""
    if name == "predictions":
        return "the output layer"
    return f"block {name[len('block') :]}" if name.startswith("block") else name


def dead_shares(dead):
    """'71% of block 5's channels, 84% of fc1's units and 73% of fc2's units'."""
    return listing(
        [
            f"{share:.0%} of {unit_label(name)}'s {'channels' if name.startswith('block') else 'units'}"
            for name, share in dead.items()
        ],
        limit=len(dead),
    )


def training_loss_progress(metrics):
    """(first logged training loss, the mean of the last three), or None with fewer than two rows."""
    losses = [row.loss for row in metrics.batches if math.isfinite(row.loss)]
    if len(losses) < 2:
        return None
    return losses[0], sum(losses[-3:]) / len(losses[-3:])


# --- Rules -----------------------------------------------------------------------------------------------------


def diverged(case):
    events = []  # (step, what happened there)
    nonfinite = [(row.step, row.what, row.value) for row in case.diagnostics.nonfinite]
    # Runs recorded before the probes existed tell it by their metrics alone.
    nonfinite += [(row.step, "training loss", row.loss) for row in case.metrics.batches if not math.isfinite(row.loss)]
    if nonfinite:
        step, what, value = min(nonfinite, key=lambda event: event[0])
        events.append((step, f"its {what} became {value} at step {step}"))
    bad_probe = next((probe for probe in case.diagnostics.probes if probe.nonfinite), None)
    if bad_probe:
        events.append((bad_probe.step, f"the {listing(bad_probe.nonfinite)} were not finite at step {bad_probe.step}"))
    finite = [row for row in case.metrics.batches if math.isfinite(row.loss)]
    exploded = next((row for row in finite if row.loss > EXPLODED_LOSS), None)
    peak = max(finite, key=lambda row: row.loss, default=None)
    # A spike the run recovered from (Adam's first steps on a wide head) is not a divergence.
    if exploded and not any(row.loss < LN10 for row in finite if row.step > exploded.step):
        peaked = f" and peaked at {peak.loss:.4g}" if peak.step != exploded.step else ""
        events.append(
            (
                exploded.step,
                f"its training loss reached {exploded.loss:.4g} at step {exploded.step}{peaked} "
                f"(guessing scores ln 10 = {LN10:.2f})",
            )
        )
    if not events:
        return None
    events.sort(key=lambda event: event[0])
    return Finding(
        Verdict.DIVERGED,
        "The run diverged: " + "; ".join(event[1] for event in events) + ".",
        {
            "first_step": events[0][0],
            "peak_training_loss": peak.loss if peak else None,
            "ln10": LN10,
            "nonfinite": list(bad_probe.nonfinite) if bad_probe else [],
            "peak_update_ratio": peak_update_ratio(case.diagnostics.probes),
        },
    )


def at_chance(probe):
    return abs(probe.loss - LN10) <= CHANCE_TOLERANCE and probe.prediction_spread < SAME_ANSWER_SPREAD


def stuck(case):
    recent = case.recent()
    if not recent or not all(at_chance(probe) for probe in recent):
        return None
    probes = case.diagnostics.probes
    since = len(probes) - PERSISTENT_PROBES
    while since > 0 and at_chance(probes[since - 1]):
        since -= 1
    latest = recent[-1]
    dead = dead_units(latest)
    sentence = (
        f"The network is stuck at chance: since step {probes[since].step} its loss on the probe images has "
        f"been {latest.loss:.4f}, against ln 10 = {LN10:.4f} for guessing, and it gives every image the same "
        f"answer (its probabilities vary by {latest.prediction_spread:.1e} across images)"
    )
    if dead:
        sentence += f"; {dead_shares(dead)} are dead, zero for every probe image"
    return Finding(
        Verdict.STUCK,
        sentence + ".",
        {
            "since_step": probes[since].step,
            "step": latest.step,
            "loss": latest.loss,
            "ln10": LN10,
            "prediction_spread": latest.prediction_spread,
            "entropy": latest.entropy,
            "accuracy": latest.accuracy,
            "dead_units": dead,
        },
    )


def too_slow(case):
    peak = peak_update_ratio(case.diagnostics.probes)
    progress = training_loss_progress(case.metrics)
    if len(case.diagnostics.probes) < PERSISTENT_PROBES or peak is None or peak >= SLOW_UPDATE_RATIO:
        return None
    if progress is None or progress[0] - progress[1] >= SLOW_PROGRESS * progress[0]:
        return None
    first, last = progress
    return Finding(
        Verdict.TOO_SLOW,
        (
            f"Learning too slowly: no unit's weights moved by more than {peak:.1e} of their size in one step "
            f"(about 1e-03 is typical), and the training loss is {last:.3f} against {first:.3f} at the start."
        ),
        {
            "peak_update_ratio": peak,
            "first_training_loss": first,
            "training_loss": last,
            "learning_rate": case.diagnostics.latest.learning_rate,
        },
    )


def dead_relus(case):
    recent = case.recent()
    if not recent:
        return None
    dead = dead_units(recent[-1])
    dead = {name: share for name, share in dead.items() if all(name in dead_units(probe) for probe in recent)}
    if not dead:
        return None
    return Finding(
        Verdict.DEAD_RELUS,
        (
            f"Dead ReLUs: {dead_shares(dead)} output zero for every probe image (step {recent[-1].step}), so no "
            f"signal passes through them and no gradient comes back to train them."
        ),
        {"dead_units": dead, "step": recent[-1].step},
    )


def vanishing(case):
    recent = case.recent()
    fades = [gradient_fade(probe) for probe in recent]
    if not recent or not all(ratio is not None and ratio < VANISHING_RATIO for ratio, _ in fades):
        return None
    ratio, late = fades[-1]
    first = recent[-1].units[0]
    late_name = unit_label(late.name)
    share = f"1/{1 / ratio:,.0f} of {late_name}'s" if ratio > 0 else f"zero, against {late_name}'s"
    return Finding(
        Verdict.VANISHING,
        (
            f"Vanishing gradients: per unit of weight, {unit_label(first.name)}'s gradient is {share} "
            f"({relative_gradient(first):.1e} against {relative_gradient(late):.1e}), so the first blocks barely "
            f"learn (step {recent[-1].step})."
        ),
        {
            "ratio": ratio,
            "early_unit": first.name,
            "late_unit": late.name,
            "early_relative_gradient": relative_gradient(first),
            "late_relative_gradient": relative_gradient(late),
            "gradient_norms": {unit.name: unit.gradient_norm for unit in recent[-1].units},
        },
    )


def overfitting(case):
    epochs = [row for row in case.metrics.validated_epochs if math.isfinite(row.accuracy)]
    if len(epochs) < 2:
        return None
    gaps = [row.accuracy - row.val_accuracy for row in epochs]
    narrowest = min(gaps[:-1])
    if gaps[-1] < OVERFIT_GAP or gaps[-1] < narrowest + GAP_GROWTH:
        return None
    last = epochs[-1]
    return Finding(
        Verdict.OVERFITTING,
        (
            f"Overfitting: after epoch {last.epoch} training accuracy is {last.accuracy:.0%} but validation accuracy "
            f"only {last.val_accuracy:.0%}, a gap of {100 * gaps[-1]:.0f} points that was {100 * narrowest:.0f} at its "
            f"narrowest: the network memorizes its training images."
        ),
        {
            "epoch": last.epoch,
            "accuracy": last.accuracy,
            "val_accuracy": last.val_accuracy,
            "gap": gaps[-1],
            "narrowest_gap": narrowest,
            "val_loss": last.val_loss,
        },
    )


RULES = (diverged, stuck, too_slow, dead_relus, vanishing, overfitting)


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


def turn_batch_norm_on(why):
    return f"Turn batch normalization on: {why}", {"batch_norm": True}


def fix_stuck(case):
    if not case.config.batch_norm:
        return turn_batch_norm_on(
            "it re-centres and re-scales every conv's output, so the signal keeps its size through all the layers "
            "instead of fading until every image looks alike, and the ReLUs stay alive."
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
            "it keeps every ReLU's input centred on zero, so no channel is pushed below zero "
            "for every image, where it would get no gradient to come back."
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
            "it rescales every layer's output to a standard size, so the gradient reaches the first blocks as "
            "strong as the last (He initialization would help too, but is not a setting here)."
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


def healthy(case, step):
    latest = case.diagnostics.latest
    most_dead = max(
        (unit for unit in latest.units if unit.dead_fraction is not None),
        key=lambda unit: unit.dead_fraction,
        default=None,
    )
    ratio, late = gradient_fade(latest)
    evidence = {
        "step": step,
        "loss": latest.loss,
        "ln10": LN10,
        "prediction_spread": latest.prediction_spread,
        "accuracy": latest.accuracy,
        "gradient_ratio": ratio,
        "most_dead_unit": most_dead and most_dead.name,
        "dead_fraction": most_dead and most_dead.dead_fraction,
    }
    sentence = (
        f"Healthy: at step {step} the loss on the probe images is {latest.loss:.3f} (guessing scores "
        f"{LN10:.2f}), its answers differ from image to image (spread {latest.prediction_spread:.2f})"
    )
    if most_dead is not None:
        sentence += f", at most {most_dead.dead_fraction:.0%} of a unit's ReLUs are dead ({unit_label(most_dead.name)})"
    if ratio is not None:
        sentence += f", and block 1 gets {ratio:.2g} times {unit_label(late.name)}'s gradient per unit of weight"
    return Diagnosis(Verdict.HEALTHY, sentence + ".", evidence, step=step)


def waiting(case, step):
    probes, errors = case.diagnostics.probes, case.diagnostics.errors
    if errors:
        sentence = f"No verdict: {errors[0].error[0].lower()}{errors[0].error[1:]}"
    else:
        sentence = (
            f"Too early to tell: the doctor needs {PERSISTENT_PROBES} probes of the network and has "
            f"{len(probes)}" + (" (runs trained before the doctor have none)." if not probes else ".")
        )
    return Diagnosis(Verdict.WAITING, sentence, {"probes": len(probes)}, step=step)
