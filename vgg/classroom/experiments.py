"""Guided experiments (experiments/<id>.toml): settings fixed on a preset, a question with choices the student
picks before starting, and a check of the ended run's records that says which choices were right. Also each
page's "Try this" task (experiments/try-this.toml). experiments/README.md describes the files."""

import contextlib
import dataclasses
import functools
import math
import os
import pathlib
import tomllib

from vgg.classroom.doctor import Verdict, diagnose
from vgg.classroom.launch import ENDED_STATES
from vgg.core.config import TrainConfig, preset, validate
from vgg.core.errors import UserError
from vgg.core.paths import EXPERIMENTS_DIR
from vgg.runs.status import State

EXPERIMENTS_DIR_VARIABLE = "VGG_EXPERIMENTS_DIR"

TRY_THIS_FILE = "try-this.toml"  # Each page's task, not an experiment (vgg/classroom/tasks.py).
RULES = ("doctor_verdict", "gap_above", "accuracy_above", "accuracy_below")
SETTINGS = {field.name for field in dataclasses.fields(TrainConfig)}


def experiments_dir():
    """The experiments folder: $VGG_EXPERIMENTS_DIR (a class's own, or a test's), else the shipped one."""
    return pathlib.Path(os.environ.get(EXPERIMENTS_DIR_VARIABLE) or EXPERIMENTS_DIR)


class ExperimentError(UserError):
    """A broken experiment file, or a run whose records cannot say what happened; one sentence naming it."""


@dataclasses.dataclass(frozen=True)
class Choice:
    id: str
    text: str
    effect: bool | None  # Whether it predicts the effect the experiment's check looks for; None with its own check.
    check: tuple | None = None  # (rule, value) that holds when this choice came true, for more than yes or no.


@dataclasses.dataclass(frozen=True)
class Experiment:
    id: str  # The file's name without .toml: what a run's status records.
    title: str
    question: str
    preset: str
    settings: dict  # TrainConfig field -> value, fixed on the preset.
    choices: tuple
    rule: str
    value: object  # The rule's threshold or verdict.
    explain_effect: str
    explain_no_effect: str
    order: int = 0

    def config(self):
        """The run's settings: the preset with this experiment's changes, validated."""
        return validate(preset(self.preset).replace(**self.settings))

    def choice(self, choice_id):
        return next((choice for choice in self.choices if choice.id == choice_id), None)


@dataclasses.dataclass(frozen=True)
class Outcome:
    effect: bool  # Whether the check held.
    measured: str  # What the run's records showed, in one sentence.
    explanation: str  # The file's explanation for what happened.
    right: dict  # Choice id -> whether that prediction came true.


def load_experiment(path):
    """The experiment in `path`; a file that cannot work raises ExperimentError naming it."""
    path = pathlib.Path(path)
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise ExperimentError(f"Experiment file {path.name!r} cannot be read ({error.__class__.__name__}).") from None
    except tomllib.TOMLDecodeError as error:
        raise ExperimentError(f"Experiment file {path.name!r} is not valid TOML: {error}.") from None
    try:
        return _parsed(path.stem, values)
    except (KeyError, TypeError, ValueError, UserError) as error:
        detail = f"it lacks {error}" if isinstance(error, KeyError) else str(error).rstrip(".")
        raise ExperimentError(f"Experiment file {path.name!r} is broken: {detail}.") from None


def _text(values, name):
    value = values[name]
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be some text. Received: {name}={value!r}")
    return value.strip()


def _parsed(experiment_id, values):
    settings = values.get("settings", {})
    if not isinstance(settings, dict) or set(settings) - SETTINGS:
        raise ValueError(f"[settings] names no setting {', '.join(sorted(set(settings) - SETTINGS))}")
    choices = tuple(_choice(choice) for choice in values["choices"])
    if len(choices) < 2 or len({choice.id for choice in choices}) < len(choices):
        raise ValueError("it needs two or more [[choices]] with different ids")
    check, explain = values["check"], values["explain"]
    experiment = Experiment(
        id=experiment_id,
        title=_text(values, "title"),
        question=_text(values, "question"),
        preset=_text(values, "preset"),
        settings=dict(settings),
        choices=choices,
        rule=_text(check, "rule"),
        value=check["value"],
        explain_effect=_text(explain, "effect"),
        explain_no_effect=_text(explain, "no_effect"),
        order=values.get("order", 0),
    )
    _check_rule(experiment.rule, experiment.value)
    experiment.config()  # Refuses settings that cannot work, in the settings' own sentence.
    return experiment


def _choice(values):
    """A choice predicts the experiment's effect (`effect = true`), its absence, or has a check of its own."""
    check = values.get("check")
    if check is not None:
        _check_rule(check["rule"], check["value"])
        return Choice(_text(values, "id"), _text(values, "text"), None, (check["rule"], check["value"]))
    if not isinstance(values.get("effect"), bool):
        raise ValueError(f"choice {values.get('id')!r} needs effect = true or false, or a check of its own")
    return Choice(_text(values, "id"), _text(values, "text"), values["effect"])


def _check_rule(rule, value):
    if rule not in RULES:
        raise ValueError(f"[check] rule must be one of {', '.join(RULES)}. Received: rule={rule!r}")
    if rule == "doctor_verdict":
        verdicts = [value] if isinstance(value, str) else value
        if not isinstance(verdicts, list) or not verdicts or set(verdicts) - {str(verdict) for verdict in Verdict}:
            raise ValueError(f"[check] value must be a doctor's verdict ({', '.join(Verdict)}). Received: {value!r}")
    elif isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"[check] value must be an accuracy between 0 and 1. Received: value={value!r}")


def load_experiments(folder=None):
    """(experiments in their order, one sentence per broken file): one broken file hides only itself."""
    experiments, errors = [], []
    for path in sorted(pathlib.Path(folder or experiments_dir()).glob("*.toml")):
        if path.name == TRY_THIS_FILE:
            continue
        try:
            experiments.append(load_experiment(path))
        except ExperimentError as error:
            errors.append(str(error))
    return sorted(experiments, key=lambda experiment: (experiment.order, experiment.title)), errors


def outcome(experiment, run):
    """What the ended `run` of `experiment` showed and which choices were right; a run whose records cannot say
    (no validated epoch) raises ExperimentError."""
    records = _Records(run)
    effect, measured = records.holds(experiment.rule, experiment.value)
    right = {
        choice.id: records.holds(*choice.check)[0] if choice.check else choice.effect == effect
        for choice in experiment.choices
    }
    return Outcome(effect, measured, experiment.explain_effect if effect else experiment.explain_no_effect, right)


def experiment_runs(runs, experiment_id=None):
    """{run: status} of the runs of `experiment_id` (of any experiment when None) among `runs`, newest first; a
    damaged run is left out."""
    found = {}
    for run in runs:
        with contextlib.suppress(UserError):
            status = run.status()
            if status.experiment == experiment_id or experiment_id is None and status.experiment:
                found[run] = status
    return dict(sorted(found.items(), key=lambda item: item[1].created or "", reverse=True))


@dataclasses.dataclass(frozen=True)
class ClassResult:
    """One experiment run of the class: who, which experiment, what they predicted and what came true."""

    owner: str | None
    experiment: Experiment
    predicted: Choice | None
    happened: str  # The choices that came true, in words, or the run's state while it has not ended.
    right: bool | None  # Whether the prediction came true; None until the run ends with records that can say.


def class_results(experiments, runs):
    """A ClassResult per run of `experiments` among `runs`, newest first (a run of a removed file is left out)."""
    by_id = {experiment.id: experiment for experiment in experiments}
    results = []
    for run, status in experiment_runs(runs).items():
        experiment = by_id.get(status.experiment)
        if experiment is None:
            continue
        happened = "waiting in the queue" if status.state == State.QUEUED else "training" if status.active else None
        happened, right = happened or str(status.state), None
        if status.state in ENDED_STATES:
            with contextlib.suppress(UserError):
                result = outcome(experiment, run)
                happened = " / ".join(c.text for c in experiment.choices if result.right[c.id]) or "none of the choices"
                right = result.right.get(status.prediction)
        results.append(ClassResult(status.owner, experiment, experiment.choice(status.prediction), happened, right))
    return results


@dataclasses.dataclass
class Tally:
    students: int = 0  # Who predicted this choice.
    right: int = 0  # Of them, whose run ended and proved it right.
    ended: int = 0  # Of them, whose run ended with records that can say.

    @property
    def wrong(self):
        return self.ended - self.right

    @property
    def waiting(self):
        """Of them, whose run has not ended yet (or ended without records that can say)."""
        return self.students - self.ended


def tally(results):
    """{(experiment title, predicted choice's text, "" for none): Tally} over ClassResults."""
    counts = {}
    for result in results:
        counted = counts.setdefault(
            (result.experiment.title, result.predicted.text if result.predicted else ""), Tally()
        )
        counted.students += 1
        counted.right += result.right is True
        counted.ended += result.right is not None
    return counts


class _Records:
    """A run's records as the rules read them, each read once however many choices ask."""

    def __init__(self, run):
        self.run = run

    @functools.cached_property
    def diagnosis(self):
        return diagnose(self.run)

    @functools.cached_property
    def last_epoch(self):
        epochs = [row for row in self.run.metrics().validated_epochs if math.isfinite(row.accuracy)]
        if not epochs:
            raise ExperimentError(
                f"Run {self.run.name!r} ended before a validated epoch, so it cannot tell what happened."
            )
        return epochs[-1]

    def holds(self, rule, value):
        """(whether `rule` with `value` holds, what the records showed in one sentence)."""
        if rule == "doctor_verdict":
            verdicts = [value] if isinstance(value, str) else value
            return self.diagnosis.verdict in verdicts, f"The training doctor's verdict: {self.diagnosis.sentence}"
        last = self.last_epoch
        measured = (
            f"After epoch {last.epoch} training accuracy was {last.accuracy:.0%} and validation accuracy "
            f"{last.val_accuracy:.0%}"
        )
        if rule == "gap_above":
            gap = last.accuracy - last.val_accuracy
            return gap > value, f"{measured}: a gap of {100 * gap:.0f} points."
        held = last.val_accuracy < value if rule == "accuracy_below" else last.val_accuracy > value
        return held, measured + "."
