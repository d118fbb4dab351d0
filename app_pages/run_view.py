"""One run, drawn from its files (so it shows a run started anywhere, even by the CLI): its state, the
Stop/Resume/Pause controls, its progress, its last epoch's numbers and its chart.

When it redraws: while the shown run trains (and its updates are not paused), a fragment redraws this
view every 2 seconds (vgg.core.config.REDRAW_SECONDS) on its own, and nothing else of the page (an unchanged
chart is the same shared figure, which the browser does not draw again); when the run starts or ends, here or in
another session, the view asks for one full rerun, so the Start button and the runs table follow.
Otherwise it is drawn once per full rerun of the page.
"""

import datetime
import pathlib

import streamlit as st

from app_pages import links
from app_pages.caches import active_signature, cached_run_estimate, runs_dir
from app_pages.charts import Series, training_figure
from app_pages.class_ui import current_user, is_teacher, start_run
from app_pages.doctor_view import doctor_ui
from app_pages.pages import mistakes_link
from app_pages.plain import plain
from app_pages.presenter import plotly_chart
from vgg.classroom.policy import check_control, may_control
from vgg.core.config import REDRAW_SECONDS
from vgg.core.errors import UserError
from vgg.core.files import file_stamp
from vgg.core.phases import ANALYSING, PREPARING, SCORING, TRAINING, VALIDATING, WORDS, past_preparing
from vgg.data.cifar10 import default_data_dir
from vgg.runs.folder import open_run
from vgg.runs.metrics import format_duration, progress, read_metrics
from vgg.runs.naming import display_name, fix_title, name_of, run_title
from vgg.runs.status import PRECISION_WORDS, PROCESS_STATES, RESUMABLE_STATES, State, images_per_epoch
from vgg.runs.time_left import seconds_left

STATE_ICONS = {
    State.RUNNING: ":material/play_circle:",
    State.QUEUED: ":material/schedule:",
    State.FINISHED: ":material/check_circle:",
    State.STOPPED: ":material/pause_circle:",
    State.FAILED: ":material/error:",
    State.INTERRUPTED: ":material/warning:",
    State.CREATED: ":material/radio_button_unchecked:",
    State.DAMAGED: ":material/broken_image:",
}


def pause_key(run_name):
    return f"pause_{run_name}"


def controls_ui(run, status, live, title=None):
    """The run's state line, naming it `title` (a twin's "(2)" included) or as its files do, and its buttons (only
    for those who may use them); returns "stop", "resume" or None."""
    columns = st.columns([3, 1, 1])
    owner = f" · started by {plain(status.owner)}" if status.owner else ""
    precision = f" · {PRECISION_WORDS[status.precision]}" if status.precision in PRECISION_WORDS else ""
    machine = f" on **{plain(status.node)}**" if status.node else ""  # A cluster machine (vgg/cluster/), by name.
    columns[0].markdown(
        f"{STATE_ICONS.get(status.state, '')} **{plain(title or name_of(run, with_owner=False))}** is "
        f"**{status.state}**{machine} · device: {plain(status.device or 'not yet known')}{precision}{owner}"
    )
    # A view-only link shows the run as it goes; its buttons stay with whoever opened the page itself.
    allowed = may_control(status, current_user(), is_teacher()) and not links.view_only()
    if status.state == State.QUEUED:
        if allowed:
            columns[1].button(
                "Cancel",
                key=f"stop_{run.name}",
                on_click=press,
                args=(run.name, "stop"),
                help="Take it out of the queue; it can be resumed later.",
            )
        return pressed(run.name)
    if status.active:
        if allowed:
            columns[1].button(
                "Stop",
                key=f"stop_{run.name}",
                on_click=press,
                args=(run.name, "stop"),
                help="Finish the batch, save a checkpoint, stop",
            )
        # Streamlit draws a chart whose data changed as a new chart, losing the reader's zoom: while a
        # run trains, at every redraw. Pausing stops the redraws (the training goes on), so a zoom stays.
        paused = columns[2].toggle(
            "Pause updates",
            key=pause_key(run.name),
            help=f"Stop redrawing this run every {REDRAW_SECONDS:g} seconds, so that you can zoom into the chart "
            "(drag a box) and hover over it. The training goes on; turn it off to catch up.",
        )
        action = pressed(run.name)
        if paused and live and action is None:
            st.rerun(scope="app")  # Only the page can stop the fragment that redraws this run.
        return action
    if status.state in RESUMABLE_STATES and allowed:
        # A run stopped before its first step has no checkpoint yet; resuming it starts it from epoch 0.
        resume_help = (
            "Continue from the last checkpoint" if run.checkpoint_path.exists() else "Start it again from epoch 0"
        )
        columns[1].button(
            "Resume", key=f"resume_{run.name}", on_click=press, args=(run.name, "resume"), help=resume_help
        )
    return pressed(run.name)


def press(run_name, action):
    """A button's callback: it runs as soon as the click reaches the server, before any redraw, so a click made
    while the live view redraws itself is never lost (a button's own value lasts one run only)."""
    st.session_state[f"run_action_{run_name}"] = action


def pressed(run_name):
    """The action a button of this run asked for since the last draw, once."""
    return st.session_state.pop(f"run_action_{run_name}", None)


def apply(action, run, status):
    """Carries out what controls_ui returned; a refusal is one sentence on the page."""
    try:
        check_control(run, status, current_user(), is_teacher())
        if action == "stop":
            run.request_stop()
            st.toast("Cancelled." if status.state == State.QUEUED else "Stopping after this batch…")
        elif action == "resume":
            start_run(run_name=run.name, data_dir=status.data_dir or default_data_dir(), resume=True)
            st.rerun(scope="app")
    except UserError as error:
        st.error(plain(error))


def analysing(run, status):
    """Whether a finished run's process still prepares its analyses for the pages (vgg/explain/ready.py); a process
    killed meanwhile left its phase in the status, but no longer holds the run's lock."""
    return status.state == State.FINISHED and status.phase == ANALYSING and run.alive()


def analysing_now(run_name):
    """Whether run `run_name` is finished and its process prepares its analyses: its view redraws meanwhile."""
    try:
        run = open_run(runs_dir(), run_name)
        return analysing(run, run.status())
    except UserError:
        return False


def progress_ui(run, status, metrics, config):
    """The bar and its line: what the run is doing now, phase by phase, with images done while it validates or
    scores, and the time left for all of its remaining phases."""
    if analysing(run, status):
        done, total = status.phase_done or 0, status.phase_total or 1
        st.progress(
            done / total,
            text=f"Finished · {WORDS[ANALYSING]}: {done} of {total} ready, so they open at once…",
        )
        return
    now = progress(metrics, config.epochs)
    phase = status.phase if status.state in PROCESS_STATES else None
    epoch = f"Epoch {now.epoch:.2f} of {config.epochs} · "
    fraction, counted = now.fraction, f"{status.phase_done or 0:,} of {status.phase_total or 0:,}"
    if config.minutes:  # Its length is its budget's time, however many epochs fit in it.
        used = past_preparing(status)
        epoch = f"Epoch {now.epoch:.2f} · {format_duration(used)} of {format_duration(config.minutes * 60)} · "
        fraction = 1.0 if status.state == State.FINISHED else used / (config.minutes * 60)
    if status.state == State.QUEUED:
        text = "Waiting for a training slot…"
    elif phase == PREPARING or (status.active and not now.epoch and phase is None):
        text = "Preparing data and model…"
    elif phase == ANALYSING and status.phase_total:  # On a cluster's head, a run still counts as running meanwhile.
        text = f"{epoch}{WORDS[ANALYSING]}: {status.phase_done or 0} of {status.phase_total} ready…"
        fraction = (status.phase_done or 0) / status.phase_total
    elif phase == SCORING and status.phase_total:
        text = f"{epoch}scoring the final model: {counted} images"
        fraction = (status.phase_done or 0) / status.phase_total
    elif phase == VALIDATING and status.phase_total:
        text = f"{epoch}checking on the validation images: {counted}"
    elif phase in WORDS and phase != TRAINING:
        text = f"{epoch}{WORDS[phase]}…"
    elif not now.epoch:
        text = "No metrics yet."
    else:
        text = f"{epoch}{now.images_per_second:,.0f} images/s"
    if status.state in PROCESS_STATES:
        text += time_left_text(run, status, metrics, config)
    st.progress(min(1.0, fraction), text=text)


def time_left_text(run, status, metrics, config):
    """' · about 1 min 20 s left' for a run in its process, from what is left of each of its phases."""
    try:
        guess = cached_run_estimate(str(run.path.parent), run.name)
    except UserError:
        return ""
    seconds = seconds_left(config, status, metrics, guess)
    return f" · about {format_duration(seconds)} left" if seconds >= 1 else " · almost done"


def numbers_ui(status, metrics):
    epochs = metrics.validated_epochs
    if epochs:
        last = epochs[-1]
        change = f"{last.val_accuracy - epochs[-2].val_accuracy:+.1%}" if len(epochs) > 1 else None
        columns = st.columns(4)
        columns[0].metric(
            "Validation accuracy",
            f"{last.val_accuracy:.1%}",
            change,
            help="On the validation images: photos the network never trains on, a fair test of new ones.",
        )
        columns[1].metric("Validation loss", f"{last.val_loss:.3f}")
        columns[2].metric("Training accuracy", f"{last.accuracy:.1%}")
        columns[3].metric(
            "Learning rate",
            f"{last.learning_rate:.2g}",
            help="The size of each step. The cosine schedule lowers it to 0 at the last epoch on "
            "purpose: small final steps settle the weights.",
        )
    if status.final_accuracy is not None and status.final_flip_average:
        # An averaged run's epoch numbers above are each epoch's own weights, not the model it finished with.
        finished_model = (
            f"Finished model, the average of the weights of its last {status.averaged_epochs} epochs"
            if status.averaged_epochs
            else "Finished model"
        )
        st.caption(
            f"{finished_model}: **{status.final_accuracy:.1%}** of the validation images right when each is "
            f"averaged with its mirror image, as Predict does "
            f"({status.final_single_view_accuracy:.1%} on the images alone). Predict looks at each photo and at "
            "its mirror image and averages the two answers: a model trained on flipped copies knows both."
        )


def follow_state(run, status, live):
    """Asks for a full rerun when the run's state changed since this session last drew it, or, while it is drawn
    live, when any run was queued, started or ended since the page was drawn (the queue and the Start button
    follow)."""
    key = f"last_state_{run.name}"
    previous = st.session_state.get(key)
    # A finished run that ends its analyses changes too: the page then stops redrawing it.
    st.session_state[key] = now = (status.state, analysing(run, status))
    if previous is not None and previous != now:
        st.rerun(scope="app")
    if live and st.session_state.get("drawn_signature") not in (None, active_signature(str(runs_dir()))):
        st.rerun(scope="app")


def run_view_ui(run_name, compare_names, live=False, title=None):
    """Draws run `run_name` with `compare_names` overlaid on its chart. `live`: drawn by the fragment. `title`: what
    the page calls the run without who started it (a twin's "(2)" included), given by the page since telling twins
    apart reads every run's files."""
    try:
        run = open_run(runs_dir(), run_name)
        config, status, metrics = run.config(), run.status(), run.metrics()
    except UserError as error:
        st.error(plain(error))
        return
    follow_state(run, status, live)
    action = controls_ui(run, status, live, title)
    if action:
        apply(action, run, status)
    if status.state == State.FAILED:
        st.error(f"The run failed: {plain(status.error)}")
    elif status.state == State.STOPPED and status.error:
        st.info(plain(status.error))  # Why it stopped when nobody pressed Stop: the class's time limit, the queue.
    progress_ui(run, status, metrics, config)
    chart_ui(run, config, status, compare_names)
    numbers_ui(status, metrics)
    fixed = doctor_ui(run, config)
    if fixed is not None:
        start_fix(run, status, fixed)
    if status.state == State.FINISHED and run.model_path.exists():
        st.markdown(f"[:material/troubleshoot: See this model's mistakes]({mistakes_link(f'Run {run.name} (final)')})")


def start_fix(run, status, fixed):
    """Starts the doctor's fixed run through the same path and limits as any run, named after the original and
    overlaid on it."""
    try:
        new, _ = start_run(
            config=fixed,
            preset=status.preset,
            data_dir=status.data_dir or default_data_dir(),
            title=fix_title(run_title(run.config(), status)),
        )
    except UserError as error:
        st.error(plain(error))
        return
    st.session_state.started_run = new.name
    st.session_state.overlay_next = [run.name]  # The page sets the overlay before drawing its chooser.
    st.rerun(scope="app")


def series_key(run, config, status):
    """What one run's curves depend on: its metrics file's size and time, and how it is labelled."""
    return (
        str(run.path),
        display_name(config, status),
        images_per_epoch(config, status),
        *file_stamp(run.metrics_path),
    )


@st.cache_resource(max_entries=64, show_spinner=False)
def shared_figure(keys, x_axis):
    """The chart of the runs in `keys`, built once per change of their files for every session watching:
    30 students on one run cost one figure a second, not thirty. Callers must not change it."""
    series = [
        Series(
            pathlib.Path(path).name,
            label,
            read_metrics(pathlib.Path(path) / "metrics.jsonl", pathlib.Path(path).name),
            images,
        )
        for path, label, images, _, _ in keys
    ]
    return training_figure(series, x_axis, shared=True)


def chart_ui(run, config, status, compare_names):
    keys = [series_key(run, config, status)]
    for name in compare_names:
        try:
            other = open_run(runs_dir(), name)
            keys.append(series_key(other, other.config(), other.status()))
        except UserError:
            continue
    # Epochs of different sizes (3,000 images against 45,000) compare fairly only by images seen.
    unequal = len({key[2] for key in keys}) > 1
    x_axis = st.session_state.get("x_axis") or "auto"
    if x_axis == "auto":
        x_axis = "images" if unequal else "epochs"
    try:
        figure = shared_figure(tuple(keys), "images" if x_axis == "images" else "epoch")
    except UserError as error:
        st.error(plain(error))
        return
    plotly_chart(figure, key=f"chart_{run.name}")
    st.caption(
        "Solid lines: on the training images, as it learns. Dashed: on the validation images, which it "
        "never trains on: how well it does on new photos. ln 10 = 2.30 is the loss of a model that "
        "guesses evenly among the 10 classes; 10% is the accuracy of guessing. "
        f"Updated {datetime.datetime.now():%H:%M:%S}."
    )
