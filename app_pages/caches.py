"""What the server keeps for every session: the runs folder, the queue's pump thread, the data, the models, and
the live views' short-lived reads of the runs folder (the queue and the active runs), cleared by `after_start`.

Heavy imports (TensorFlow) happen inside the cached functions, so the first page paints before TensorFlow has
loaded.
"""

import contextlib
import os

import streamlit as st

from app_pages.plain import plain
from vgg.cluster.connect import use_configured_cluster
from vgg.core.config import REDRAW_SECONDS
from vgg.core.errors import UserError
from vgg.core.estimate import models_kept
from vgg.core.files import file_version
from vgg.core.paths import default_runs_dir
from vgg.data.cifar10 import DataError, default_data_dir, load_cifar10
from vgg.explain.evaluation import DEFAULT_SPLIT, split_id
from vgg.runs.folder import list_runs, open_run
from vgg.runs.queue import ensure_pump, forecast, run_estimate
from vgg.runs.record import ModelRecord
from vgg.runs.status import ACTIVE_STATES

ESTIMATE_SECONDS = 30.0  # How long a run's estimate is reused: the finished runs it comes from rarely change.


def runs_dir():
    return default_runs_dir()


def start_queue_pump(folder):
    """One thread per server that starts queued runs when a slot frees (vgg/runs/queue.py): a run killed hard,
    or a queue left by a restart, moves on without anyone pressing a button. With VGG_CLUSTER it starts them on the
    cluster (vgg/cluster/)."""
    try:
        use_configured_cluster(folder)
    except (UserError, ValueError) as error:
        st.error(plain(error))
        st.stop()
    return ensure_pump(folder)


def start_shipped_preparation():
    """Once per server: the shipped models' analyses prepared in a niced process of its own (vgg/explain/ready.py),
    so their pages open at once the first time, and no page waits for it meanwhile."""
    from vgg.explain.ready import ensure_shipped_preparation
    from vgg.runs.record import SHIPPED_MODEL, SNAPSHOT_MODEL

    with contextlib.suppress(OSError):  # A read-only cache: the pages compute on first view, as without it.
        ensure_shipped_preparation(
            [path for path in (SHIPPED_MODEL, SNAPSHOT_MODEL) if path.exists()], default_data_dir()
        )


@st.cache_resource(show_spinner="Loading CIFAR-10…")
def load_dataset(data_dir):
    return load_cifar10(data_dir)


@st.cache_resource(show_spinner="Loading CIFAR-10…", max_entries=2)
def load_split(data_dir, validation_size, seed):
    return load_cifar10(data_dir, validation_size, seed)


def dataset_for(validation_size, seed):
    """(dataset, None) for a split, sharing the other pages' copy when it is theirs; else (None, one sentence)."""
    data_dir = default_data_dir()
    try:
        if data_dir is None or (validation_size, seed) == DEFAULT_SPLIT:
            return load_dataset(data_dir), None
        return load_split(data_dir, validation_size, seed), None
    except DataError as error:
        return None, str(error)


def dataset_or_message():
    """(dataset, None) for the app's own split when data is available, else (None, one sentence saying how to
    get it)."""
    return dataset_for(*DEFAULT_SPLIT)


@st.cache_resource(show_spinner=False, max_entries=4)
def cached_split_id(data_dir, validation_size, seed, _dataset):
    return split_id(_dataset, validation_size, seed)


@st.cache_resource(show_spinner="Loading the model…", max_entries=models_kept())
def load_predictor(path, modified_time):
    """A Predictor for a model file; `modified_time` makes a re-saved checkpoint load anew. As many are kept as
    fit the machine's memory (vgg/core/estimate.py): students spread over many runs' models reload none."""
    from vgg.explain.predictor import Predictor
    from vgg.model.device import limit_serving_threads

    limit_serving_threads()
    return Predictor.for_file(path, runs_dir(), version=modified_time)


@st.cache_resource(show_spinner="Loading the model at that epoch…", max_entries=8)
def load_epoch_predictor(path, modified_time, epoch):
    """A Predictor for a model file with the weights of its snapshot of `epoch` (vgg/runs/snapshots.py)."""
    from vgg.explain.predictor import Predictor, load_model
    from vgg.model.device import limit_serving_threads
    from vgg.runs.snapshots import load_epoch

    limit_serving_threads()
    model = load_epoch(load_model(path, runs_dir()), path, epoch)
    record = ModelRecord.of(path)
    return Predictor(
        model,
        flip_average=record.flip_average,
        class_names=record.class_names,
        source=f"{os.path.realpath(path)}@{modified_time}#epoch-{epoch}",
    )


def pinned_version_key(model_key, path):
    """The session-state key of the version (modification time) of model file `path` that the chooser
    `model_key` pinned (app_pages/choosers.py pinned_version)."""
    return f"{model_key}_version_{path}"


def newer_checkpoint(model_key, path):
    """Whether the file changed since this session loaded its model (a training run's checkpoint): what is saved
    for the new file must not be computed with the old model."""
    pinned = st.session_state.get(pinned_version_key(model_key, path))
    return pinned is not None and pinned != file_version(path)


@st.cache_data(ttl=REDRAW_SECONDS, show_spinner=False)
def queue_places(folder):
    """The queue with expected start times, computed once per redraw for every watching session."""
    return forecast(folder)


@st.cache_data(ttl=ESTIMATE_SECONDS, show_spinner=False)
def cached_run_estimate(folder, run_name):
    """A run's estimate on this machine, for its time left: it reads every run's records, so the live view, which
    redraws every 2 seconds for every watching session, reads them only every half minute."""
    return run_estimate(open_run(folder, run_name), list_runs(folder))


@st.cache_data(ttl=REDRAW_SECONDS / 2, show_spinner=False)
def active_signature(folder):
    """(run name, state) of every queued, starting or training run: read twice per redraw for every session, so
    a live view notices within one redraw that a run started or ended."""
    signature = []
    for run in list_runs(folder):
        with contextlib.suppress(UserError):
            state = run.status().state
            if state in ACTIVE_STATES:
                signature.append((run.name, str(state)))
    return tuple(signature)


def after_start():
    """Forgets the queue and the active runs read for every session: a run was just queued, started, cancelled
    or reordered, and every view must show it at its next draw."""
    queue_places.clear()
    active_signature.clear()
