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

from vgg.classroom.fixes import FIXES
from vgg.classroom.symptoms import PERSISTENT_PROBES, RULES, Case, Verdict, gradient_fade, unit_label
from vgg.core.config import validate
from vgg.runs.diagnostics import LN10, read_diagnostics


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
