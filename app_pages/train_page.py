"""Train: choose a recipe, start a run in its own process, watch it live, stop, resume, compare.

The page reruns whole when a control changes or a run starts or ends; the run shown redraws on its
own while it trains (app_pages/run_view.py). Its functions draw and return what the user chose;
`render` acts on it.
"""

import datetime

import streamlit as st

from app_pages import links
from app_pages.caches import active_signature, after_start, runs_dir
from app_pages.class_ui import identity_ui, is_teacher, refusal_ui, start_run
from app_pages.class_view import apply_queue_action, queue_ui, render_teacher_controls
from app_pages.pages import TRAIN, page_header
from app_pages.plain import plain
from app_pages.presenter import folded
from app_pages.replay_view import replay_ui
from app_pages.run_view import analysing_now, pause_key, run_view_ui
from app_pages.train_settings import settings_ui
from vgg.classroom.launch import training_runs
from vgg.classroom.policy import class_mode, clean_name, delete_run, may_delete
from vgg.core.config import REDRAW_SECONDS, validate
from vgg.core.errors import UserError
from vgg.data.cifar10 import default_data_dir
from vgg.runs.folder import list_runs, open_run
from vgg.runs.naming import distinct_name_pairs, name_of
from vgg.runs.queue import slot_count
from vgg.runs.status import State

X_AXES = ["auto", "epochs", "images"]
# What a link to this page names (app_pages/links.py): the run shown, the runs overlaid and the chart's x axis, not
# the training settings.
LINK = (
    links.Param("run", "train_link_run", "Run shown", lambda: [run.name for run in list_runs(runs_dir())]),
    links.Param(
        "overlay",
        "compare",
        "Overlaid runs",
        lambda: [run.name for run in list_runs(runs_dir())],
        many=True,
        default=[],
    ),
    links.Param("x", "x_axis", "x axis", lambda: X_AXES, default="auto"),
)


def start_ui(training, titles, column):
    """The Start button in `column`; returns whether it was pressed. While `training` (runs) hold every slot,
    a new run waits in the queue, and the button says so, naming them by `titles` (run_titles)."""
    full = len(training) >= slot_count()
    pressed = column.button(
        "Queue run" if full else "Start training",
        type="primary",
        key="start",
        width="stretch",
        help="Every training slot is busy: the run waits in the queue and starts by itself." if full else None,
    )
    if full:
        names = ", ".join(f"**{plain(titles.get(run.name) or name_of(run))}**" for run in training)
        st.info(
            f"{names} {'is' if len(training) == 1 else 'are'} training; a new run waits in the queue below and "
            "starts by itself when a slot frees."
        )
    # A refusal stays on screen until the next start, and a place in the queue while the run waits there, not
    # only until the next redraw.
    refusal_ui("start_refusal")
    queued = st.session_state.get("start_queued")
    if queued and queued in {name for name, state in active_signature(str(runs_dir())) if state == State.QUEUED}:
        name = plain(name_of(open_run(runs_dir(), queued)))
        st.success(f"Run **{name}** is in the queue; it starts by itself when a training slot frees.")
    return pressed


def run_title_ui():
    """The name the starter gives the next run, in the sidebar (lists show it instead of the folder's name)."""
    return st.sidebar.text_input(
        "Name this run (optional)",
        key="run_title",
        placeholder="group 3, lr 0.01",
        help="Runs are listed and overlaid by this name.",
    )


def start(preset_name, config, title):
    """Launches a run with `config`; says why not in one sentence when it cannot start."""
    st.session_state.pop("start_queued", None)
    try:
        run, _ = start_run(
            config=validate(config),
            preset=preset_name,
            data_dir=default_data_dir(),
            title=clean_name(title, "A run's name"),
        )
    except UserError as error:
        st.session_state.start_refusal = str(error)
        st.error(plain(error))
        return
    st.session_state.pop("start_refusal", None)
    after_start()
    if run.status().state == State.QUEUED:
        st.session_state.start_queued = run.name
    st.session_state.started_run = run.name
    # Redraw the whole page: the Start button must show as disabled while the run trains.
    st.rerun()


def delete_ui(runs, titles):
    """The teacher's (anyone's outside class mode) deletion of a run that is not training, confirmed first."""
    if class_mode() and not is_teacher():
        return
    with st.expander("Delete a run"):
        deletable = {run.name: run for run in runs if may_delete(run)}
        if not deletable:
            st.caption("Every run is queued or training.")
            return
        name = st.selectbox("Run to delete", list(deletable), key="delete_choice", format_func=lambda n: titles[n])
        # Keyed by the run: a tick given for one run must not carry over to the next one chosen.
        sure = st.checkbox(
            f"Yes, delete run {plain(repr(titles[name]))} and its files for good", key=f"delete_sure_{name}"
        )
        if st.button("Delete", disabled=not sure, key="delete_run"):
            try:
                delete_run(deletable[name], is_teacher())
            except UserError as error:
                st.error(plain(error))
                return
            st.session_state.pop(f"delete_sure_{name}", None)
            st.rerun()


def runs_table_ui(runs, titles):
    rows = []
    for summary in (run.summary() for run in runs):
        rows.append(
            {
                "run": titles.get(summary.name, summary.name),
                "started by": summary.owner or "",
                "state": str(summary.state),
                "preset": summary.preset or "",
                "epochs": f"{summary.epochs_done}/{summary.epochs or '?'}",
                "validation accuracy": None if summary.val_accuracy is None else round(summary.val_accuracy, 4),
                "final score (as Predict does)": (
                    None if summary.final_accuracy is None else round(summary.final_accuracy, 4)
                ),
                "problem": summary.problem or "",
                "created": datetime.datetime.fromisoformat(summary.created) if summary.created else None,
            }
        )
    st.dataframe(
        rows,
        hide_index=True,
        column_config={
            "validation accuracy": st.column_config.NumberColumn(
                format="percent", help="On the validation images alone, after the last finished epoch."
            ),
            "final score (as Predict does)": st.column_config.NumberColumn(
                format="percent",
                help="The finished model as Predict scores it: each validation image averaged with its mirror image "
                "when the run trained with flips.",
            ),
            "created": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
        },
    )


def run_titles(runs):
    """({folder name: what lists call the run}, the same without who started it, for the run's state line, which
    says so itself), each distinct (vgg/runs/naming.py)."""
    return distinct_name_pairs(runs)


def run_choice_ui(titles, default_name):
    """Returns (run to show, runs to overlay); the chart's x axis is kept in session state. A link's run (?run=)
    is shown unless a run was just started; its hidden controls are not drawn."""
    names = list(titles)
    if "overlay_next" in st.session_state:  # A run started from another (the doctor's fix) is overlaid on it.
        st.session_state.compare = st.session_state.pop("overlay_next")
    if "started_run" in st.session_state:  # A run just started is shown, whatever the link named.
        st.session_state.pop("train_link_run", None)
    if st.session_state.get("train_link_run") in names:
        default_name = st.session_state.train_link_run
    st.session_state.setdefault("x_axis", "auto")
    columns = st.columns([2, 3, 2], vertical_alignment="bottom")
    run_name = default_name
    if links.shows("run"):
        run_name = columns[0].selectbox(
            "Show run", names, index=names.index(default_name), key=f"show_run_{default_name}", format_func=titles.get
        )
    others = [name for name in names if name != run_name]
    # A run deleted since the link was made, or the run now shown, cannot be overlaid.
    st.session_state.compare = [name for name in st.session_state.get("compare", []) if name in others]
    if links.shows("overlay"):
        columns[1].multiselect("Overlay other runs", others, key="compare", format_func=titles.get)
    if links.shows("x"):
        columns[2].segmented_control(
            "x axis",
            X_AXES,
            key="x_axis",
            help="Auto: images seen when the runs shown hold different numbers of images per epoch (they compare "
            "fairly only so), else epochs.",
        )
    links.write(TRAIN.path, LINK, {"run": run_name, "overlay": st.session_state.compare, "x": st.session_state.x_axis})
    return run_name, st.session_state.compare


def render():
    page_header(TRAIN)
    if links.view_only():
        view_only_ui()
        return
    identity_ui()
    title = run_title_ui()
    # Training runs first, so that each is among all runs listed after; starting a run reruns the page.
    training = training_runs(runs_dir())
    runs = list_runs(runs_dir())
    titles, line_titles = run_titles(runs)
    with folded("Settings and Start"):
        preset_name, config, start_column = settings_ui()
        if start_ui(training, titles, start_column):
            start(preset_name, config, title)
    links.follow(TRAIN.path, LINK)
    started = st.session_state.get("started_run")

    signature = st.session_state.drawn_signature = active_signature(str(runs_dir()))
    if not runs:
        st.info("No runs yet: choose a preset and press Start training.")
        follow_other_sessions_ui(signature)
    else:
        # The queue before the run shown: whoever waits looks for their place first.
        action = queue_ui(titles)
        if action:
            apply_queue_action(action)
        run_name, compare_names = run_choice_ui(titles, started or (training[0].name if training else runs[0].name))
        st.session_state.pop("started_run", None)
        # Only a run that is training, and not paused, redraws every second: a fragment redrawing while the whole
        # page reruns (a setting changed) can leave the page blank, so idle pages keep none.
        live = run_name in {run.name for run in training} or analysing_now(run_name)
        if live and not st.session_state.get(pause_key(run_name)):
            st.fragment(run_every=REDRAW_SECONDS)(run_view_ui)(run_name, compare_names, True, line_titles[run_name])
        else:
            run_view_ui(run_name, compare_names, title=line_titles[run_name])
            follow_other_sessions_ui(signature)
    replay_ui(expanded=not runs)
    if runs:
        st.subheader("All runs")
        runs_table_ui(runs, titles)
        delete_ui(runs, titles)
        st.caption(f"Runs are saved in the server's runs folder; `tensorboard --logdir {runs_dir()}` shows them too.")
    render_teacher_controls()
    links.share_ui(TRAIN.path, LINK)


def view_only_ui():
    """A view-only link (links.view_only): the run it names, live while it trains, with its overlays and no
    control: no settings, no Start, no table."""
    links.follow(TRAIN.path, LINK)
    training = training_runs(runs_dir())  # First, so that each is among all runs listed after.
    runs = list_runs(runs_dir())
    signature = st.session_state.drawn_signature = active_signature(str(runs_dir()))
    if not runs:
        st.info("No runs yet: this view shows the teacher's run once it starts.")
    else:
        titles, line_titles = run_titles(runs)
        run_name, compare_names = run_choice_ui(titles, training[0].name if training else runs[0].name)
        if run_name in {run.name for run in training}:
            st.fragment(run_every=REDRAW_SECONDS)(run_view_ui)(run_name, compare_names, True, line_titles[run_name])
            return
        run_view_ui(run_name, compare_names, title=line_titles[run_name])
    follow_other_sessions_ui(signature)


@st.fragment(run_every=REDRAW_SECONDS)
def follow_other_sessions_ui(signature):
    """Draws nothing: redraws the page when a run is queued, starts or ends elsewhere (another session, the CLI,
    the queue), so the Start button, the queue and the run shown follow."""
    if active_signature(str(runs_dir())) != signature:
        st.rerun(scope="app")
