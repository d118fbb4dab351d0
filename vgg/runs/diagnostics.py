"""diagnostics.jsonl: what the training doctor (vgg/classroom/doctor.py) sees, probed live on a fixed batch of images.

Typed rows, read back incrementally without TensorFlow; the probes themselves are in vgg/training/probes.py.
The trainer probes the network on the same validation images (a class-balanced, seeded sample of
PROBE_IMAGES) for the whole run: every `probe_interval` steps during the run's first epoch, and after
the last step of every epoch. Each probe is one line (`ProbeRow`), with one `UnitProbe` per unit:
each conv block (`block1`..`block5`), each hidden Dense layer (`fc1`, `fc2`) and the output layer
(`predictions`). A non-finite training loss is a `NonFiniteRow` (once, at the first step it appears);
a probe that fails is a `ProbeErrorRow` (once: probing stops, training goes on).

Definitions, all on the probe batch with the model in inference mode (`training=False`: no dropout,
batch norm with its moving statistics):
- activation mean and std: over every value of the unit's output after its ReLU (a block's last conv);
- dead fraction: the share of the unit's ReLU channels (for a block, over all its convs; for a Dense
  layer, its units) whose output is zero for every probe image at every position;
- gradient norm: the L2 norm of the gradient of the probe batch's mean cross-entropy (without label
  smoothing, so that guessing scores exactly ln 10) with respect to all the unit's trainable weights;
- update ratio: the L2 norm of the change the optimizer made to those weights in the step just
  before the probe (measured: the weights are copied before that step), over their norm before it;
- prediction spread: the mean over classes of the standard deviation of the softmax across the probe
  images; near 0, the network gives every image the same answer;
- entropy: the mean over images of the softmax's entropy, which is ln 10 for a uniform guess.
"""

import dataclasses
import json

from vgg.core.cifar10 import CHANCE_LOSS
from vgg.core.files import json_kind, write_text
from vgg.runs.jsonl import JsonlFollower
from vgg.runs.metrics import row_line
from vgg.runs.status import DamagedRunError

PROBE_IMAGES = 200  # A few hundred: enough that a channel zero on all of them is dead, not unlucky.
LN10 = CHANCE_LOSS  # The name the doctor's sentences use.
UNIT_FIELDS = ("activation_mean", "activation_std", "dead_fraction", "gradient_norm", "weight_norm", "update_ratio")


@dataclasses.dataclass(frozen=True, slots=True)
class UnitProbe:
    name: str  # "block1".."block5", "fc1", "fc2" or "predictions".
    activation_mean: float | None  # None for the output layer, which has no ReLU.
    activation_std: float | None
    dead_fraction: float | None
    gradient_norm: float
    weight_norm: float
    update_ratio: float | None  # None when the weights did not exist before the step (never in practice).


@dataclasses.dataclass(frozen=True, slots=True)
class ProbeRow:
    step: int  # Optimizer steps since the run began, the probed one included.
    epoch: float  # Epochs done, fractional, as in metrics.jsonl; a whole number at the end of an epoch.
    learning_rate: float  # For the step just taken.
    loss: float  # Mean cross-entropy on the probe images; ln 10 is guessing.
    accuracy: float
    entropy: float  # Mean entropy of the softmax; ln 10 when every class gets 1/10.
    prediction_spread: float  # Near 0: the same answer for every image.
    images: int
    units: tuple  # UnitProbe per unit, input side first.
    nonfinite: tuple = ()  # What was NaN or infinite: "probe loss", "block3 weights", "fc1 gradients".
    seconds: float = 0.0  # What the probe cost, copy of the weights included.
    kind: str = "probe"

    def unit(self, name):
        return next((unit for unit in self.units if unit.name == name), None)


@dataclasses.dataclass(frozen=True, slots=True)
class NonFiniteRow:
    step: int  # The first step whose training loss was NaN or infinite.
    epoch: float
    what: str
    value: float
    kind: str = "nonfinite"


@dataclasses.dataclass(frozen=True, slots=True)
class ProbeErrorRow:
    step: int
    epoch: float
    error: str  # One sentence; probing stopped there and training went on.
    kind: str = "probe_error"


ROW_TYPES = {"probe": ProbeRow, "nonfinite": NonFiniteRow, "probe_error": ProbeErrorRow}
NUMBER_FIELDS = {
    "probe": ("step", "epoch", "learning_rate", "loss", "accuracy", "entropy", "prediction_spread"),
    "nonfinite": ("step", "epoch", "value"),
    "probe_error": ("step", "epoch"),
}


@dataclasses.dataclass(frozen=True)
class Diagnostics:
    probes: tuple = ()
    nonfinite: tuple = ()
    errors: tuple = ()

    @property
    def latest(self):
        return self.probes[-1] if self.probes else None

    @property
    def unit_names(self):
        """Every unit probed, in the model's order (the order of the latest probe)."""
        return tuple(unit.name for unit in self.latest.units) if self.probes else ()


# --- Reading ---------------------------------------------------------------------------------------------------


def _is_number(value, optional=False):
    return (value is None and optional) or (isinstance(value, (int, float)) and not isinstance(value, bool))


def _unit(value):
    names = [field.name for field in dataclasses.fields(UnitProbe)]
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        raise TypeError
    values = {name: value[name] for name in names}
    if not all(_is_number(values[name], optional=name not in ("gradient_norm", "weight_norm")) for name in names[1:]):
        raise TypeError
    return UnitProbe(**values)


def parse_row(line, run_name="?"):
    """The typed row of one line, or None for a line cut short; valid JSON that is not a row raises
    DamagedRunError in one sentence."""
    try:
        value = json.loads(line)
    except ValueError:
        return None  # Cut short by a crash, or still being written.
    kind = value.get("kind") if isinstance(value, dict) else None
    if kind not in ROW_TYPES:
        holding = "an object of no known kind" if isinstance(value, dict) else json_kind(value)
        raise DamagedRunError(f"Run {run_name!r} is damaged: its diagnostics.jsonl has a line holding {holding}.")
    try:
        values = {
            field.name: value[field.name]
            for field in dataclasses.fields(ROW_TYPES[kind])
            if field.name in value or field.name not in ("nonfinite", "seconds")
        }
        if not all(_is_number(values[name]) for name in NUMBER_FIELDS[kind]):
            raise TypeError
        if kind == "probe":
            if not isinstance(values["units"], list) or not values["units"]:
                raise TypeError
            values["units"] = tuple(_unit(unit) for unit in values["units"])
            values["nonfinite"] = tuple(str(what) for what in values.get("nonfinite", []) or [])
        return ROW_TYPES[kind](**values)
    except (KeyError, TypeError, ValueError):
        raise DamagedRunError(
            f"Run {run_name!r} is damaged: a line of its diagnostics.jsonl is not a diagnostics row."
        ) from None


def _extended(diagnostics, data, run_name):
    rows = {"probe": [], "nonfinite": [], "probe_error": []}
    for line in data.splitlines():
        row = parse_row(line, run_name)
        if row is not None:
            rows[row.kind].append(row)
    if not any(rows.values()):
        return diagnostics
    return Diagnostics(
        diagnostics.probes + tuple(rows["probe"]),
        diagnostics.nonfinite + tuple(rows["nonfinite"]),
        diagnostics.errors + tuple(rows["probe_error"]),
    )


_reader = JsonlFollower(_extended, Diagnostics)


def read_diagnostics_file(path, run_name="?"):
    return _reader.read(path, run_name)


def read_diagnostics(run):
    """The run's typed diagnostics rows; none when it has no diagnostics.jsonl (yet)."""
    return read_diagnostics_file(run.diagnostics_path, run.name)


def truncate_diagnostics(run, epochs_done):
    """Keeps the rows up to the checkpoint a resumed run starts from, as its metrics are; lines that are
    not rows (damaged by hand, cut short) go too, so a damaged file never stops a run from training."""
    try:
        lines = run.diagnostics_path.read_bytes().splitlines()
    except OSError:
        return
    kept = []
    for line in lines:
        try:
            row = parse_row(line, run.name)
        except DamagedRunError:
            row = None
        if row is not None and row.epoch <= epochs_done:
            kept.append(row_line(row))
    write_text(run.diagnostics_path, "".join(kept))


@dataclasses.dataclass(frozen=True)
class Heatmap:
    """One field of every unit over time, for a heatmap: values[unit][probe], None where not measured."""

    field: str
    units: tuple  # Row labels, input side first.
    steps: tuple  # Column positions.
    epochs: tuple
    values: tuple


def heatmap(diagnostics, field):
    """Units x probes matrix of `field` (one of UNIT_FIELDS), e.g. "dead_fraction" or "gradient_norm"."""
    if field not in UNIT_FIELDS:
        raise ValueError(f"field must be one of {', '.join(UNIT_FIELDS)}. Received: field={field!r}")
    units = diagnostics.unit_names
    values = []
    for name in units:
        row = []
        for probe in diagnostics.probes:
            unit = probe.unit(name)
            row.append(None if unit is None else getattr(unit, field))
        values.append(tuple(row))
    steps = tuple(probe.step for probe in diagnostics.probes)
    return Heatmap(field, units, steps, tuple(probe.epoch for probe in diagnostics.probes), tuple(values))
