"""What the pages compute on a model's first view, named in one place, and computing it all ahead of them.

Mistakes scores the model on its split's validation images (vgg/explain/evaluation.py); Nearest images indexes its
training images (vgg/explain/neighbours.py); Filters finds each channel's top validation images
(vgg/explain/top_images.py), the pictures of what each class wants, and of what the first channels of the default
layer and of the deepest want (vgg/explain/feature_vis.py). The pages take their layer and counts from here, and
`steps` asks for the very same files, so a run's training process that prepares them when the run finishes
(vgg/training/analyses.py), and `python -m vgg prepare` for the shipped models, save exactly what the pages read back.
"""

import dataclasses
import json
import os
import pathlib
import subprocess
import sys
import threading
import time

from vgg.core import locks
from vgg.core.files import write_json
from vgg.core.paths import PROJECT_ROOT
from vgg.data.cifar10 import cache_dir
from vgg.explain import evaluation as evaluations
from vgg.explain import feature_vis, neighbours, top_images
from vgg.explain.evaluation import evaluation_key, split_id

SHOWN_CHANNELS = 16  # Channels of a deeper layer the Filters tab shows: four rows of four fit a projector's width.
DEFAULT_BLOCK = 3  # The Filters tab opens on this block's last conv, whose channels draw textures.
# A run's analyses start one after another while they have taken less than this: all six of a cpu-preset model fit
# well within it on 2 cores (BENCHMARKS.md, "A finished run's analyses"), while a far larger model on a slow machine
# stops early rather than hold the training slot from the next run, and its pages compute the rest on first view.
BUDGET_SECONDS = 120.0
# Changed when what `steps` saves changes meaning: a server's record that the shipped models are ready then expires.
FORMATS = (evaluations.FORMAT, neighbours.FORMAT, top_images.FORMAT, feature_vis.FORMAT)
# What `steps` prepares, in words: the record expires too when it changes, and a server prepares what is new.
PREPARED = ("evaluation", "index", "top photos", "class pictures", "default layer's pictures", "deepest layer's")
SHIPPED_VARIABLE = "VGG_PREPARE_SHIPPED"  # "0": the server never prepares the shipped models' analyses itself.
# "0": a finished run's process leaves its analyses to its pages' first view, and frees its training slot at once.
RUN_VARIABLE = "VGG_PREPARE_ANALYSES"
# `prepare --shipped` runs below the web server and the training runs: it only spares the first visitor a wait.
SHIPPED_NICENESS = 19


def deeper_layers(model):
    """The conv layers whose channels the Filters tab pictures: every one but the first, whose 3x3 filters it
    draws directly."""
    from vgg.model.build import conv_layers

    return [layer.name for layer in conv_layers(model)][1:]


def default_layer(model):
    """The deeper layer the Filters tab shows first: block 3's last conv (else the first deeper layer)."""
    names = deeper_layers(model)
    return names[
        max((index for index, name in enumerate(names) if name.startswith(f"block{DEFAULT_BLOCK}_")), default=0)
    ]


@dataclasses.dataclass(frozen=True)
class Step:
    what: str  # What it computes, for a progress line.
    compute: object  # compute(progress) -> (value, one sentence when it could not be saved, or None)


def steps(model_path, model, dataset, split, flip_average, class_names, scored=None):
    """What the pages would compute on first view of the model file at `model_path` (loaded as `model`) over
    `dataset`, the split `split` ((validation size, seed): vgg/explain/evaluation.py split_for) that the pages load,
    likeliest opened first. `scored`: the model's Evaluation on these very images, when the caller has it already."""
    model_path = pathlib.Path(model_path)

    def get_model():
        return model

    found = []
    if len(dataset.y_val):
        key = evaluation_key(model_path, split_id(dataset, *split))
        found.append(
            Step(
                "its answers for Mistakes",
                lambda progress: _evaluation(key, dataset, model, flip_average, scored, progress),
            )
        )
    found.append(
        Step(
            "its index for Nearest images",
            lambda progress: neighbours.index_for(model_path, dataset, split, get_model, progress),
        )
    )
    if len(dataset.y_val):
        from vgg.model.build import activation_layer_names

        names = activation_layer_names(model)
        found.append(
            Step(
                "the top photos of its channels",
                lambda progress: top_images.top_images_of(key, names, dataset.x_val, get_model, progress),
            )
        )
    found.append(
        Step(
            "the pictures of what each class wants",
            lambda progress: feature_vis.pictures_of(
                model_path, feature_vis.CLASSES, get_model, len(class_names), progress
            ),
        )
    )
    # The default layer's, then the deepest's: Inside VGG16's task (experiments/try-this.toml) has a class compare
    # block 1's filters, drawn as they are, with block 5's pictures. Other layers wait for their first view.
    for layer in dict.fromkeys((default_layer(model), deeper_layers(model)[-1])):
        found.append(
            Step(
                f"the pictures of what {layer}'s channels want",
                lambda progress, layer=layer: feature_vis.pictures_of(
                    model_path, layer, get_model, SHOWN_CHANNELS, progress
                ),
            )
        )
    return found


def _evaluation(key, dataset, model, flip_average, scored, progress):
    """The evaluation, saved from `scored` when it is of these images and views, else read back or computed."""
    fits = (
        scored is not None
        and scored.flip_average == bool(flip_average)
        and scored.class_names == tuple(dataset.class_names)
        and scored.labels.shape == dataset.y_val.shape
        and (scored.labels == dataset.y_val).all()
    )
    if fits:
        evaluations.save(key, scored)
    return evaluations.evaluation_of(key, dataset, lambda: model, flip_average, progress)


class Stopped(Exception):
    """Raised from a step's progress when the caller asks to stop: the analyses left are for the pages."""


@dataclasses.dataclass
class Outcome:
    done: list = dataclasses.field(default_factory=list)  # [(what, seconds)] of the steps that finished.
    problems: list = dataclasses.field(default_factory=list)  # One sentence per step that failed or was not saved.
    left: int = 0  # Steps not run: stopped, or out of budget.


def prepare(found, on_step=None, stopped=lambda: False, budget_seconds=BUDGET_SECONDS):
    """Runs the Steps `found` in order, each read back when saved already; `on_step(done, total, what)` before
    each and at the end; a failing step is one sentence in the Outcome and the next goes on. Stops (leaving the
    rest to the pages) when `stopped()` turns true or the steps have taken `budget_seconds`."""
    outcome, started = Outcome(), time.monotonic()

    def progress(done, total, ahead=0):
        if stopped():
            raise Stopped

    for index, step in enumerate(found):
        if stopped() or time.monotonic() - started >= budget_seconds:
            outcome.left = len(found) - index
            break
        if on_step:
            on_step(index, len(found), step.what)
        began = time.monotonic()
        try:
            _, problem = step.compute(progress)
        except Stopped:
            outcome.left = len(found) - index
            break
        except Exception as error:  # noqa: BLE001  (one analysis that cannot be made leaves the others, and the run)
            outcome.problems.append(f"Could not compute {step.what} ({type(error).__name__}: {error}).")
            continue
        outcome.done.append((step.what, round(time.monotonic() - began, 3)))
        if problem:
            outcome.problems.append(problem)
    if on_step:
        on_step(len(found) - outcome.left, len(found), None)
    return outcome


def prepare_files(paths, data_dir, runs_dir, say=print):
    """Prepares the analyses of the model files `paths` over the images the pages load from `data_dir` (None: Keras'
    download), as a finished run does, without a budget; `say` hears each step. Returns one sentence per problem."""
    from vgg.data.cifar10 import load_cifar10
    from vgg.explain.predictor import load_model
    from vgg.runs.record import ModelRecord

    problems = []
    for path in paths:
        record, split = ModelRecord.of(path), evaluations.split_for(path)
        dataset, model = load_cifar10(data_dir, *split), load_model(path, runs_dir)
        found = steps(path, model, dataset, split, record.flip_average, record.class_names)

        def on_step(done, total, what, name=pathlib.Path(path).name):
            say(f"{name}: preparing {what} ({done + 1} of {total})…" if what else f"{name}: {done} of {total} ready.")

        problems += prepare(found, on_step, budget_seconds=float("inf")).problems
    return problems


# The shipped models: prepared once per install by a process of their own -------------------------------------------


def shipped_record(models, data_dir):
    """What a server's shipped analyses were prepared for: the model files as they are, the data, the formats and
    the analyses."""
    files = {}
    for path in models:
        stat = pathlib.Path(path).stat()
        files[str(path)] = [stat.st_size, stat.st_mtime_ns]
    return {"models": files, "data_dir": data_dir, "formats": list(FORMATS), "prepared": list(PREPARED)}


def shipped_marker():
    return cache_dir() / "evaluations" / "shipped-ready.json"


def shipped_ready(models, data_dir):
    """Whether the shipped models' analyses were prepared for these files and data (read without TensorFlow)."""
    try:
        return json.loads(shipped_marker().read_text()) == shipped_record(models, data_dir)
    except (OSError, ValueError):
        return False


def mark_shipped_ready(models, data_dir):
    shipped_marker().parent.mkdir(parents=True, exist_ok=True)
    write_json(shipped_marker(), shipped_record(models, data_dir), "the record of the shipped models' analyses")


_started = {}  # {data cache folder: the preparation this process started}
_started_lock = threading.Lock()


def ensure_shipped_preparation(models, data_dir):
    """Once per process and data cache: starts `python -m vgg prepare --shipped` niced, in a session of its own,
    unless the shipped models are ready or SHIPPED_VARIABLE is "0"; the child holds a lock (holding_shipped_lock),
    so restarts and servers sharing the data cache prepare them once. Returns the process started, or None."""
    with _started_lock:
        if str(cache_dir()) in _started:
            return None
        _started[str(cache_dir())] = process = _start_shipped_preparation(models, data_dir)
        return process


def _start_shipped_preparation(models, data_dir):
    if os.environ.get(SHIPPED_VARIABLE) == "0" or not models or shipped_ready(models, data_dir):
        return None
    environment = dict(
        os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))
    )
    log = shipped_marker().with_name("shipped-prepare.log")
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "vgg", "prepare", "--shipped"],
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Not stopped by a Ctrl-C meant for the server.
            cwd=PROJECT_ROOT,
            env=environment,
        )


def shipped_lock():
    """The lock file that one preparation of the shipped models holds while it works."""
    path = shipped_marker().with_name(".shipped-prepare.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def holding_shipped_lock():
    """The descriptor of the shipped preparation's lock, or None when another process holds it."""
    return locks.acquire(shipped_lock())
