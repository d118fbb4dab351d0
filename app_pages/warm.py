"""Once per server, at the first quiet moment after its first page: a thread that imports TensorFlow and every page,
and loads and traces the models a class opens first, so that nobody's first Inside VGG16, Predict or Mistakes view
waits for them (TensorFlow's import alone takes about 5 s of a 2-core machine, a model's load and traces about 1 s
more). It prints one line to the server's console when done, then loads each run's model as the run ends."""

import contextlib
import importlib
import logging
import os
import threading
import time

import streamlit as st

from app_pages.caches import load_predictor
from app_pages.pages import PAGES
from vgg.core.errors import UserError
from vgg.core.estimate import models_kept
from vgg.core.files import file_version
from vgg.runs.record import available_models, still_training

THREAD_NAME = "vgg-warm-up"
# The shipped model, the Epoch slider's small run and the newest runs' models, at most half of the models the server
# keeps (vgg/core/estimate.py), so that those in use stay loaded.
WARM_SHARE = 0.5
WATCH_SECONDS = 5.0  # How often the thread looks for a run that has ended since.
# Imports hold Python's lock: a page drawn meanwhile waits for them (a second visitor's Data page took 2.5 s instead
# of 1.2 s), so the thread waits until no page has been drawn for this long...
QUIET_SECONDS = 3.0
# ...or this long at most: in a class that never pauses, one wait now beats someone's first Inside view later.
LONGEST_WAIT_SECONDS = 60.0
# "0": TensorFlow and each model load on the first page that needs them (the tests' servers, but for the test of
# the warm-up: beside the tests it would only take a core).
WARM_UP_VARIABLE = "VGG_WARM_UP"
CONTEXT_LOGGER = "streamlit.runtime.scriptrunner_utils.script_run_context"  # The logger of that warning.
READY_LINE = "VGG16 Lab: TensorFlow and {models} models loaded, {seconds:.1f} s after the first page."

_last_page = [time.monotonic()]  # When a script last started or ended, in any session.


class WarmUp:
    """The thread and what it has done: `ready` is set after its first round, `warmed` holds (model file, version);
    setting `stopped` ends it (it ends with the server otherwise)."""

    def __init__(self, folder, quiet_seconds):
        self.folder, self.quiet_seconds = folder, quiet_seconds
        self.ready, self.stopped, self.warmed = threading.Event(), threading.Event(), set()
        self.thread = threading.Thread(target=self.run, name=THREAD_NAME, daemon=True)

    def run(self):
        started = time.monotonic()
        wait_for_quiet(self.quiet_seconds)
        for page in PAGES:
            importlib.import_module(f"app_pages.{page.module}")
        self.warm()
        print(READY_LINE.format(models=len(self.warmed), seconds=time.monotonic() - started), flush=True)
        self.ready.set()
        seen = folder_signature(self.folder)
        while not self.stopped.wait(WATCH_SECONDS):
            now = folder_signature(self.folder)
            if now == seen:
                continue  # One listing of the runs folder: reading every run's status each time would cost more.
            seen = now
            if any((str(path), file_version(path)) not in self.warmed for path in models_to_warm(self.folder)):
                wait_for_quiet(self.quiet_seconds)
                self.warm()

    def warm(self):
        """Loads and traces each model of `models_to_warm` not loaded yet, as a page would (`load_predictor`). A model
        that cannot load is left to its page, which says why in one sentence."""
        for path in models_to_warm(self.folder):
            key = (str(path), file_version(path))
            if key not in self.warmed:
                with contextlib.suppress(UserError, OSError, ValueError):
                    load_predictor(*key).warm_up()
                self.warmed.add(key)


class _WithoutContextWarning(logging.Filter):
    """Streamlit warns when a cached function runs outside a page's script: this thread does so on purpose."""

    def filter(self, record):
        return threading.current_thread().name != THREAD_NAME or "missing ScriptRunContext" not in record.getMessage()


logging.getLogger(CONTEXT_LOGGER).addFilter(_WithoutContextWarning())


def note_page():
    """Called as each script starts and ends, so that the warm-up waits for a quiet moment."""
    _last_page[0] = time.monotonic()


def wait_for_quiet(quiet_seconds):
    """Until no page has been drawn for `quiet_seconds`, or LONGEST_WAIT_SECONDS."""
    started = time.monotonic()
    while time.monotonic() - _last_page[0] < quiet_seconds and time.monotonic() - started < LONGEST_WAIT_SECONDS:
        time.sleep(quiet_seconds / 4)


def folder_signature(folder):
    """The runs folder's run folders with their modification times: a model saved into a run's folder, by a rename,
    changes its time."""
    try:
        with os.scandir(folder) as entries:
            return sorted((entry.name, entry.stat().st_mtime_ns) for entry in entries if entry.is_dir())
    except OSError:
        return []


def models_to_warm(folder):
    """The model files the thread loads, in the model pickers' order (the shipped ones, then the newest run's): a
    WARM_SHARE of the models the server keeps, without a run's checkpoint still changing every epoch."""
    paths = [path for path in available_models(folder).values() if not still_training(path)]
    return paths[: max(1, int(models_kept() * WARM_SHARE))]


@st.cache_resource(show_spinner=False)
def start_warm_up(folder, quiet_seconds=QUIET_SECONDS):
    """Starts the warm-up thread once per server and runs folder, unless WARM_UP_VARIABLE is "0"; returns its
    `WarmUp` (tests wait for it), or None."""
    if os.environ.get(WARM_UP_VARIABLE) == "0":
        return None
    warm_up = WarmUp(folder, quiet_seconds)
    warm_up.thread.start()
    return warm_up
