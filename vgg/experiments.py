"""Guided experiments (experiments/<id>.toml): settings fixed on a preset, a question with choices the student
picks before starting, and a check of the ended run's records that says which choices were right. Also each
page's "Try this" task (experiments/try-this.toml). experiments/README.md describes the files."""

import dataclasses
import math
import pathlib
import tomllib

from vgg.config import TrainConfig, preset, validate
from vgg.doctor import Verdict, diagnose
from vgg.errors import UserError

EXPERIMENTS_DIR = pathlib.Path(__file__).resolve().parent.parent / "experiments"
TRY_THIS_FILE = "try-this.toml"
RULES = ("doctor_verdict", "gap_above", "accuracy_above", "accuracy_below")
SETTINGS = {field.name for field in dataclasses.fields(TrainConfig)}


class ExperimentError(UserError):
    """A broken experiment file, or a run whose records cannot say what happened; one sentence naming it."""


@dataclasses.dataclass(frozen=True)
class Choice:
    id: str
    text: str
    effect: bool  # Whether this choice predicts the effect the check looks for.


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
    choices = tuple(Choice(_text(choice, "id"), _text(choice, "text"), choice["effect"])
                    for choice in values["choices"])
    if len(choices) < 2 or len({choice.id for choice in choices}) < len(choices):
        raise ValueError("it needs two or more [[choices]] with different ids")
    if not all(isinstance(choice.effect, bool) for choice in choices):
        raise ValueError("every choice's effect must be true or false")
    check, explain = values["check"], values["explain"]
    experiment = Experiment(
        id=experiment_id, title=_text(values, "title"), question=_text(values, "question"),
        preset=_text(values, "preset"), settings=dict(settings), choices=choices, rule=_text(check, "rule"),
        value=check["value"], explain_effect=_text(explain, "effect"), explain_no_effect=_text(explain, "no_effect"),
        order=values.get("order", 0),
    )
    _check_rule(experiment.rule, experiment.value)
    experiment.config()  # Refuses settings that cannot work, in the settings' own sentence.
    return experiment


def _check_rule(rule, value):
    if rule not in RULES:
        raise ValueError(f"[check] rule must be one of {', '.join(RULES)}. Received: rule={rule!r}")
    if rule == "doctor_verdict":
        if value not in {str(verdict) for verdict in Verdict}:
            raise ValueError(f"[check] value must be a doctor's verdict ({', '.join(Verdict)}). Received: {value!r}")
    elif isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"[check] value must be an accuracy between 0 and 1. Received: value={value!r}")


def load_experiments(folder=EXPERIMENTS_DIR):
    """(experiments in their order, one sentence per broken file): one broken file hides only itself."""
    experiments, errors = [], []
    for path in sorted(pathlib.Path(folder).glob("*.toml")):
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
    if experiment.rule == "doctor_verdict":
        diagnosis = diagnose(run)
        effect = diagnosis.verdict == experiment.value
        measured = f"The training doctor's verdict: {diagnosis.sentence}"
    else:
        epochs = [row for row in run.metrics().validated_epochs if math.isfinite(row.accuracy)]
        if not epochs:
            raise ExperimentError(f"Run {run.name!r} ended before a validated epoch, so it cannot tell what happened.")
        last = epochs[-1]
        measured, effect = _accuracy_check(experiment.rule, experiment.value, last)
    return Outcome(effect, measured, experiment.explain_effect if effect else experiment.explain_no_effect,
                   {choice.id: choice.effect == effect for choice in experiment.choices})


def _accuracy_check(rule, value, last):
    """(sentence, whether the rule held) for the accuracies after the run's last validated epoch `last`."""
    accuracies = (f"after epoch {last.epoch} training accuracy was {last.accuracy:.0%} and validation accuracy "
                  f"{last.val_accuracy:.0%}")
    if rule == "gap_above":
        gap = last.accuracy - last.val_accuracy
        return f"{accuracies[0].upper()}{accuracies[1:]}: a gap of {100 * gap:.0f} points.", gap > value
    held = last.val_accuracy < value if rule == "accuracy_below" else last.val_accuracy > value
    return f"{accuracies[0].upper()}{accuracies[1:]}.", held


def try_this(page_name, folder=EXPERIMENTS_DIR):
    """The "Try this" task of the page called `page_name`, or None when it has none; a broken file raises
    ExperimentError naming it."""
    path = pathlib.Path(folder) / TRY_THIS_FILE
    if not path.exists():
        return None
    try:
        pages = tomllib.loads(path.read_text(encoding="utf-8")).get("pages", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        raise ExperimentError(f"The tasks file {TRY_THIS_FILE!r} is not valid TOML.") from None
    task = pages.get(page_name) if isinstance(pages, dict) else None
    return task.strip() if isinstance(task, str) and task.strip() else None
