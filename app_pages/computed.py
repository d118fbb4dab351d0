"""What is computed once per model file and saved (a model's answers, its index of training images, its channels'
pictures): read back when saved, else computed under a progress bar, with a warning when it could not be saved."""

import pathlib

import streamlit as st

from app_pages.plain import plain
from vgg.core.errors import UserError
from vgg.runs.record import still_training

# Why a first-time analysis may wait: said beside the count of jobs ahead.
ONE_AT_A_TIME = "the server computes one analysis at a time"
# Why a training run's checkpoint gets none: it changes every epoch, and each would be computed again.
STILL_TRAINING = "This run is still training: {what} come when it finishes, since its checkpoint changes every epoch."


class NotSaved(Exception):
    """Nothing usable is saved yet: a page's cached read-back raises it, since st.cache_resource keeps no
    exception while it would keep a None."""


def saved(result):
    """`result` as a cached read-back returns it, or NotSaved when there is none."""
    if result is None:
        raise NotSaved
    return result


def still_training_ui(model_path, what):
    """Whether `model_path` is the checkpoint of a run still queued or training, after one sentence saying that
    `what` comes when it finishes."""
    if not still_training(model_path):
        return False
    st.info(STILL_TRAINING.format(what=what))
    return True


def model_key_ui(make_key, model_path):
    """`make_key()` (what is saved for a model file is named by its SHA-256), or None after one sentence when the
    file cannot be read."""
    try:
        return make_key()
    except OSError as error:
        st.error(f"Could not read the model file {pathlib.Path(model_path).name} ({error.strerror or error}).")
        return None


def progress_bar(what, shown_now=False):
    """(a progress callback that shows a bar saying `what` is computed, a function that removes the bar). The bar
    shows on the callback's first call unless `shown_now`: results that turn out to be read back then never show
    one. While the job waits in the server's line, the bar says how many jobs are ahead of it."""
    text = f"Computing {what}, once for this model (later visits read it back):"
    shown = {"bar": st.progress(0.0, text=text)} if shown_now else {}

    def progress(done, total, ahead=0):
        if "bar" not in shown:
            shown["bar"] = st.progress(0.0, text=text)
        if ahead:
            shown["bar"].progress(0.0, text=f"Waiting to compute {what}: {jobs_ahead(ahead)} ({ONE_AT_A_TIME}).")
        else:
            shown["bar"].progress(done / total, text=f"{text} {done:,} of {total:,}")

    return progress, lambda: shown.get("bar") and shown["bar"].empty()


def jobs_ahead(count):
    return "1 job ahead of yours" if count == 1 else f"{count} jobs ahead of yours"


def computed_ui(what, compute, read_back=None):
    """What `read_back()` finds saved (it raises NotSaved when nothing is), else the result of `compute(progress)`
    (a (result, problem) pair) under a progress bar saying `what` is computed once for this model; None after one
    sentence when it cannot be, and a warning when it could not be saved."""
    if read_back is not None:
        try:
            return read_back()
        except NotSaved:
            pass
    progress, done = progress_bar(what, shown_now=read_back is not None)
    try:
        result, problem = compute(progress)
    except UserError as error:
        st.error(plain(error))
        return None
    finally:
        done()
    if problem:
        st.warning(problem)
    return result
