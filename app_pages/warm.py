"""Once per server, at the first quiet moment after its first page: a thread that imports TensorFlow and every page,
and loads and traces the models a class opens first, so that nobody's first Inside VGG16, Predict or Mistakes view
waits for them (TensorFlow's import alone takes about 5 s of a 2-core machine, a model's load and traces about 1 s
more). It prints one line to the server's console when done."""

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
from vgg.core.files import file_version
from vgg.runs.record import available_models, still_training

THREAD_NAME = "vgg-warm-up"
# The shipped model, the Epoch slider's small run and the two newest runs' models: what a lesson opens first. A run
# that finishes later loads on its first view, about a second, its analyses being prepared by its own process.
WARM_MODELS = 4
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


class _WithoutContextWarning(logging.Filter):
    """Streamlit warns when a cached function runs outside a page's script: this thread does so on purpose."""

    def filter(self, record):
        return threading.current_thread().name != THREAD_NAME or "missing ScriptRunContext" not in record.getMessage()


def note_page():
    """Called as each script starts and ends, so that the warm-up waits for a quiet moment."""
    _last_page[0] = time.monotonic()


def models_to_warm(folder):
    """The model files the thread loads: the first WARM_MODELS the model pickers offer, but a run's checkpoint still
    changing every epoch."""
    paths = [path for path in available_models(folder).values() if not still_training(path)]
    return paths[:WARM_MODELS]


def warm_up(folder, quiet_seconds=QUIET_SECONDS):
    """After a quiet moment, imports every page (TensorFlow with them), then loads and traces each model of
    `models_to_warm` into the server's model cache, as a page would (`load_predictor`). A model that cannot load is
    left to its page, which says why in one sentence."""
    started = time.monotonic()
    while time.monotonic() - _last_page[0] < quiet_seconds and time.monotonic() - started < LONGEST_WAIT_SECONDS:
        time.sleep(quiet_seconds / 4)
    for page in PAGES:
        importlib.import_module(f"app_pages.{page.module}")
    models = models_to_warm(folder)
    for path in models:
        with contextlib.suppress(UserError, OSError, ValueError):
            load_predictor(str(path), file_version(path)).warm_up()
    print(READY_LINE.format(models=len(models), seconds=time.monotonic() - started), flush=True)


@st.cache_resource(show_spinner=False)
def start_warm_up(folder, quiet_seconds=QUIET_SECONDS):
    """Starts the warm-up thread once per server and runs folder, unless WARM_UP_VARIABLE is "0"; returns it (a
    test waits for it), or None."""
    if os.environ.get(WARM_UP_VARIABLE) == "0":
        return None
    logging.getLogger(CONTEXT_LOGGER).addFilter(_WithoutContextWarning())
    thread = threading.Thread(target=warm_up, args=(folder, quiet_seconds), name=THREAD_NAME, daemon=True)
    thread.start()
    return thread
