"""The doctor's symptoms: the thresholds, the measures it takes of a run's probes and metrics, and the rules
that each find one verdict (vgg/classroom/doctor.py lists them and picks the first)."""

import dataclasses
import enum
import math

from vgg.model.names import layer_label
from vgg.runs.diagnostics import LN10

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
    """How a sentence names a unit: 'block 5', 'dense layer 1', 'the output layer'."""
    if name == "predictions":
        return "the output layer"
    label = layer_label(name)
    return label[0].lower() + label[1:]


def dead_shares(dead):
    """'71% of block 5's channels, 84% of dense layer 1's units and 73% of dense layer 2's units'."""
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
