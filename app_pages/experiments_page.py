"""Experiments: guided runs that ask first. The student picks an experiment, predicts its outcome, starts it
(the prediction is recorded with the run), watches it train, and then reads what happened beside what they
predicted; a table shows the class's predictions and outcomes."""

import contextlib

import streamlit as st

from app_pages.class_view import active_signature, queue_places
from app_pages.common import current_user, identity_ui, is_teacher, runs_dir, start_run, try_this_ui
from app_pages.run_view import pause_key, run_view_ui
from vgg.classroom.experiments import load_experiments, outcome
from vgg.classroom.launch import ENDED_STATES
from vgg.classroom.policy import class_mode
from vgg.core.config import changes_from_preset
from vgg.core.errors import UserError
from vgg.data.cifar10 import default_data_dir
from vgg.runs.folder import list_runs

LIVE_SECONDS = 2.0  # As the Train page: a training run's view redraws this often.


def experiment_choice_ui(experiments):
    """The experiment chosen from the list."""
    by_id = {experiment.id: experiment for experiment in experiments}
    chosen = st.selectbox("Experiment", list(by_id), key="experiment", format_func=lambda key: by_id[key].title)
    return by_id[chosen]


def prediction_ui(experiment, disabled):
    """The question, the settings it fixes, and the student's prediction (None until one is chosen)."""
    st.markdown(f"**{experiment.question}**")
    changes = changes_from_preset(experiment.config(), experiment.preset)
    fixed = ", ".join(f"{name} = {value}" for name, value in changes.items())
    st.caption(f"Settings: the **{experiment.preset}** preset with {fixed or 'nothing changed'}.")
    texts = {choice.id: choice.text for choice in experiment.choices}
    return st.radio("Your prediction, before you start", list(texts), index=None, format_func=texts.get,
                    key=f"prediction_{experiment.id}", disabled=disabled)


def start(experiment, prediction):
    """Starts the experiment's run through every page's start path and limits, with the prediction recorded."""
    try:
        run, _ = start_run(config=experiment.config(), preset=experiment.preset, data_dir=default_data_dir(),
                           title=experiment.title)
        run.update_status(experiment=experiment.id, prediction=prediction)
    except UserError as error:
        st.session_state.experiment_refusal = str(error)
        return
    st.session_state.pop("experiment_refusal", None)
    queue_places.clear()
    active_signature.clear()
    st.session_state[f"experiment_run_{experiment.id}"] = run.name
    st.rerun()


def runs_of(experiment_id, runs):
    """{run: status} of the runs of `experiment_id`, newest first (a damaged run is left out)."""
    found = {}
    for run in runs:
        with contextlib.suppress(UserError):
            status = run.status()
            if status.experiment == experiment_id or experiment_id is None and status.experiment:
                found[run] = status
    return dict(sorted(found.items(), key=lambda item: item[1].created or "", reverse=True))


def shown_run(experiment, runs):
    """(run, status) of this session's latest run of `experiment`, or of this student's, or (None, None)."""
    mine = runs_of(experiment.id, runs)
    started = st.session_state.get(f"experiment_run_{experiment.id}")
    for run, status in mine.items():
        if run.name == started or started is None and status.owner == current_user():
            return run, status
    return None, None


def result_ui(experiment, run, status):
    """What the ended run showed, beside what the student predicted."""
    try:
        result = outcome(experiment, run)
    except UserError as error:
        st.warning(str(error))
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


def class_rows(experiments, runs):
    """One row per experiment run of the class: who, which experiment, what they predicted, what came true."""
    by_id = {experiment.id: experiment for experiment in experiments}
    rows = []
    for run, status in runs_of(None, runs).items():
        experiment = by_id.get(status.experiment)
        if experiment is None:
            continue  # Its file was removed or broke since.
        choice = experiment.choice(status.prediction)
        happened, right = ("training" if status.active else str(status.state)), None
        if status.state in ENDED_STATES:
            with contextlib.suppress(UserError):
                result = outcome(experiment, run)
                happened = " / ".join(c.text for c in experiment.choices if result.right[c.id]) or "none of the choices"
                right = result.right.get(status.prediction)
        rows.append({"student": status.owner or "", "experiment": experiment.title,
                     "predicted": choice.text if choice else "", "right": right, "what happened": happened})
    return rows


def class_table_ui(experiments, runs):
    """How many predicted each choice, how many were right, and every run behind those numbers."""
    rows = class_rows(experiments, runs)
    st.subheader("How the class predicted")
    if not rows:
        st.caption("No experiment has been started yet.")
        return
    tally = {}
    for row in rows:
        counts = tally.setdefault((row["experiment"], row["predicted"]), {"students": 0, "right": 0, "ended": 0})
        counts["students"] += 1
        counts["right"] += row["right"] is True
        counts["ended"] += row["right"] is not None
    st.dataframe([{"experiment": experiment, "prediction": predicted, "students": counts["students"],
                   "right, of the runs that ended": f"{counts['right']} of {counts['ended']}"}
                  for (experiment, predicted), counts in tally.items()], hide_index=True)
    st.dataframe(rows, hide_index=True, column_config={
        "right": st.column_config.CheckboxColumn(help="Whether the prediction came true; empty until the run ends.")})


def render():
    st.title("Experiments")
    identity_ui()
    try_this_ui("Experiments")
    experiments, errors = load_experiments()
    for error in errors:
        st.warning(error)
    if not experiments:
        st.info("No experiments yet: a teacher adds them as .toml files in the experiments folder.")
        return
    experiment = experiment_choice_ui(experiments)
    runs = list_runs(runs_dir())
    run, status = shown_run(experiment, runs)
    busy = status is not None and status.active
    prediction = prediction_ui(experiment, disabled=busy)
    if st.button("Start the experiment", type="primary", key="start_experiment", disabled=prediction is None or busy,
                 help="Choose your prediction first." if prediction is None else None):
        start(experiment, prediction)
    if st.session_state.get("experiment_refusal"):
        st.error(st.session_state.experiment_refusal)
    if run is not None:
        st.session_state.drawn_signature = active_signature(str(runs_dir()))
        if status.state in ENDED_STATES:
            result_ui(experiment, run, status)
        with st.expander("The run", expanded=busy):
            if busy and not st.session_state.get(pause_key(run.name)):
                st.fragment(run_every=LIVE_SECONDS)(run_view_ui)(run.name, [], live=True)
            else:
                run_view_ui(run.name, [])
    if is_teacher() or not class_mode():
        class_table_ui(experiments, runs)
