"""Experiments: guided runs that ask first. The student picks an experiment, predicts its outcome, starts it
(the prediction is recorded with the run), watches it train, and then reads what happened beside what they
predicted; the teacher watches the class live (app_pages/class_dashboard.py)."""

import streamlit as st

from app_pages.caches import active_signature, after_start, queue_places, runs_dir
from app_pages.class_dashboard import class_dashboard_ui
from app_pages.class_ui import current_user, identity_ui, is_teacher, refusal_ui, start_run
from app_pages.class_view import starts_text
from app_pages.pages import EXPERIMENTS, page_header
from app_pages.plain import plain
from app_pages.run_view import pause_key, run_view_ui
from vgg.classroom.experiments import experiment_runs, load_experiments, outcome
from vgg.classroom.policy import class_mode, may_control
from vgg.core.config import REDRAW_SECONDS, changes_from_preset
from vgg.core.errors import UserError
from vgg.core.words import settings_words
from vgg.data.cifar10 import default_data_dir
from vgg.runs.folder import list_runs
from vgg.runs.status import ENDED_STATES, State


def experiment_choice_ui(experiments):
    """The experiment chosen from the list."""
    by_id = {experiment.id: experiment for experiment in experiments}
    chosen = st.selectbox("Experiment", list(by_id), key="experiment", format_func=lambda key: by_id[key].title)
    return by_id[chosen]


def prediction_ui(experiment, disabled):
    """The question, the settings it fixes, and the student's prediction (None until one is chosen)."""
    st.markdown(f"**{experiment.question}**")
    changes = changes_from_preset(experiment.config(), experiment.preset)
    st.caption(f"Settings: the **{experiment.preset}** preset with {settings_words(changes) or 'nothing changed'}.")
    texts = {choice.id: choice.text for choice in experiment.choices}
    return st.radio(
        "Your prediction, before you start",
        list(texts),
        index=None,
        format_func=texts.get,
        key=f"prediction_{experiment.id}",
        disabled=disabled,
    )


def start(experiment, prediction):
    """Starts the experiment's run through every page's start path and limits, with the prediction recorded."""
    try:
        run, _ = start_run(
            config=experiment.config(),
            preset=experiment.preset,
            data_dir=default_data_dir(),
            title=experiment.title,
            experiment=experiment.id,
            prediction=prediction,
        )
    except UserError as error:
        st.session_state.experiment_refusal = str(error)
        return
    st.session_state.pop("experiment_refusal", None)
    after_start()
    st.session_state[f"experiment_run_{experiment.id}"] = run.name
    st.rerun()


def shown_run(experiment, runs):
    """(run, status) of this session's latest run of `experiment`, or of this student's, or (None, None)."""
    mine = experiment_runs(runs, experiment.id)
    started = st.session_state.get(f"experiment_run_{experiment.id}")
    for run, status in mine.items():
        if run.name == started or started is None and may_control(status, current_user(), teacher=False):
            return run, status
    return None, None


def result_ui(experiment, run, status):
    """What the ended run showed, beside what the student predicted."""
    try:
        result = outcome(experiment, run)
    except UserError as error:
        st.warning(plain(error))
        return
    choice = experiment.choice(status.prediction)
    left, right = st.columns(2, border=True)
    left.markdown("**You predicted**")
    if choice is None:
        left.caption("No prediction was recorded with this run.")
    elif result.right[choice.id]:
        left.success(f"{choice.text} Right!", icon=":material/check_circle:")
    else:
        left.error(f"{choice.text} Not this time.", icon=":material/cancel:")
    right.markdown("**What happened**")
    right.markdown(result.measured)
    right.markdown(result.explanation)


def queued_ui(run):
    """A queued run's place in the queue and when it should start, redrawn with the queue's forecast."""
    place = next((place for place in queue_places(str(runs_dir())) if place.run_name == run.name), None)
    if place is None:  # It left the queue between two redraws: the page's next rerun shows it training.
        st.info("Your run is leaving the queue to start.", icon=":material/schedule:")
        return
    ahead = "no run" if place.position == 1 else f"{place.position - 1} run(s)"
    st.info(
        f"Your run is number {place.position} in the queue ({ahead} ahead of it) and starts {starts_text(place)}; "
        "it starts by itself, and its curves appear here.",
        icon=":material/schedule:",
    )


def run_ui(run, status, busy):
    """The run: its place while queued, then its curves, live while it trains and kept in view with the result."""
    if status.state == State.QUEUED:
        st.fragment(run_every=REDRAW_SECONDS)(queued_ui)(run)
    elif busy and not st.session_state.get(pause_key(run.name)):
        st.fragment(run_every=REDRAW_SECONDS)(run_view_ui)(run.name, [], live=True)
    else:
        run_view_ui(run.name, [])


def render():
    page_header(EXPERIMENTS)
    identity_ui()
    experiments, errors = load_experiments()
    for error in errors:
        st.warning(plain(error))
    if not experiments:
        st.info("No experiments yet: a teacher adds them as .toml files in the experiments folder.")
        return
    experiment = experiment_choice_ui(experiments)
    runs = list_runs(runs_dir())
    run, status = shown_run(experiment, runs)
    busy = status is not None and status.active
    prediction = prediction_ui(experiment, disabled=busy)
    if st.button(
        "Start the experiment",
        type="primary",
        key="start_experiment",
        disabled=prediction is None or busy,
        help="Choose your prediction first." if prediction is None else None,
    ):
        start(experiment, prediction)
    refusal_ui("experiment_refusal")
    if run is not None:
        st.session_state.drawn_signature = active_signature(str(runs_dir()))
        if status.state in ENDED_STATES:
            result_ui(experiment, run, status)
        run_ui(run, status, busy)
    if is_teacher() or not class_mode():
        class_dashboard_ui(experiments)
