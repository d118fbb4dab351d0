"""Train: choose a recipe, start a run in its own process, watch it live, stop, resume, compare."""

import datetime

import streamlit as st

from app_pages.charts import training_figure
from app_pages.common import runs_dir
from vgg.config import OPTIMIZERS, PRESET_DESCRIPTIONS, PRESETS, VARIANTS, validate
from vgg.data import CUTOUT_SIZES, default_data_dir
from vgg.errors import UserError
from vgg.runs import ACTIVE_STATES, active_run, format_duration, launch, list_runs, open_run, progress

WIDTHS = (0.125, 0.25, 0.375, 0.5, 0.75, 1.0)
BATCH_SIZES = (8, 16, 32, 64, 128, 256, 512)
STATE_ICONS = {
    "running": ":material/play_circle:", "queued": ":material/schedule:", "finished": ":material/check_circle:",
    "stopped": ":material/pause_circle:", "failed": ":material/error:", "interrupted": ":material/warning:",
    "created": ":material/radio_button_unchecked:",
}


def settings_ui():
    """Returns (preset name, TrainConfig) as the user set them; widgets reset when the preset changes."""
    preset_name = st.selectbox(
        "Preset", list(PRESETS), format_func=lambda name: f"{name}: {PRESET_DESCRIPTIONS[name]}", key="preset"
    )
    preset = PRESETS[preset_name]
    # Keys carry the preset's name, so choosing another preset shows its values, not stale ones.
    key = f"{preset_name}_"
    columns = st.columns(3)
    variant = columns[0].selectbox(
        "VGG variant", list(VARIANTS), index=list(VARIANTS).index(preset.variant),
        format_func=lambda name: f"{VARIANTS[name]} ({name})", key=key + "variant",
    )
    width = columns[1].select_slider(
        "Width", WIDTHS, value=preset.width, key=key + "width",
        help="Multiplier on every conv layer's channels: 1.0 is the paper's 64-128-256-512-512. Cost grows with its square.",
    )
    batch_norm = columns[2].checkbox("Batch normalization", preset.batch_norm, key=key + "batch_norm",
                                     help="Without it, VGG16 trained from scratch often never learns: see the blog preset.")
    optimizer = columns[0].selectbox("Optimizer", OPTIMIZERS, index=OPTIMIZERS.index(preset.optimizer), key=key + "optimizer")
    learning_rate = columns[1].number_input(
        "Learning rate", 1e-6, 5.0, float(preset.learning_rate), format="%.4f", key=key + "learning_rate"
    )
    batch_size = columns[2].select_slider("Batch size", BATCH_SIZES, value=preset.batch_size, key=key + "batch_size")
    epochs = columns[0].number_input("Epochs", 1, 500, preset.epochs, key=key + "epochs")
    train_subset = columns[1].number_input(
        "Training images (0 = all)", 0, 50_000, preset.train_subset, step=1000, key=key + "train_subset",
        help="A class-balanced subset: smaller runs finish sooner.",
    )
    augment = columns[2].checkbox("Augmentation (crop + flip)", preset.augment, key=key + "augment")
    cutout_size = columns[2].select_slider(
        "Cutout square (pixels)", CUTOUT_SIZES, value=preset.cutout_size, key=key + "cutout_size", disabled=not augment,
        help="Blacks out a random square of each training image, so the network cannot rely on one part "
             "of an object (DeVries & Taylor, 2017, found it helps long runs). 0 turns it off.",
    )
    config = preset.replace(
        variant=variant, width=float(width), batch_norm=batch_norm, optimizer=optimizer,
        learning_rate=float(learning_rate), batch_size=int(batch_size), epochs=int(epochs),
        train_subset=int(train_subset), augment=augment, cutout_size=int(cutout_size) if augment else 0,
    )
    return preset_name, config


def start_ui(preset_name, config):
    """The Start button; returns the new run's name when one started."""
    busy = active_run(runs_dir())
    if busy is not None:
        st.info(f"Run **{busy.name}** is training; a new run can start when it finishes or is stopped.")
        # A refusal stays on screen while the run that caused it trains, not only until the next redraw.
        if st.session_state.get("start_refusal"):
            st.error(st.session_state.start_refusal)
    else:
        st.session_state.pop("start_refusal", None)
    if st.button("Start training", type="primary", disabled=busy is not None, key="start"):
        try:
            run, _ = launch(runs_dir(), config=validate(config), preset=preset_name, data_dir=default_data_dir())
        except UserError as error:
            st.session_state.start_refusal = str(error)
            st.error(str(error))
            return None
        st.session_state.started_run = run.name
        # Redraw the whole page: the Start button must show as disabled while the run trains.
        st.rerun()
    return st.session_state.pop("started_run", None)


def progress_text(status, rows, config):
    fraction, epoch, speed, seconds_left = progress(rows, config)
    if not epoch:
        return 0.0, "Preparing data and model…" if status["state"] in ACTIVE_STATES else "No metrics yet."
    if status["state"] == "running" and status.get("phase"):
        return fraction, f"Epoch {epoch:.2f} of {config.epochs} · {status['phase']}…"
    left = f", about {format_duration(seconds_left)} left" if seconds_left and status["state"] == "running" else ""
    return fraction, f"Epoch {epoch:.2f} of {config.epochs} · {speed:,.0f} images/s{left}"


def run_view_ui(run_name, compare_names, live=False):
    """One run drawn from its files, so it shows a run started anywhere, even by the CLI.
    `live`: drawn by a fragment that redraws it every second."""
    try:
        run = open_run(runs_dir(), run_name)
        config = run.config()
    except UserError as error:
        st.error(str(error))
        return
    status = run.status()
    rows = run.metrics()
    state = status.get("state", "unknown")
    # When the run starts or ends (here or in another session), redraw the whole page, so the
    # Start button and the runs table follow; otherwise only this fragment redraws, every second.
    state_key = f"last_state_{run.name}"
    previous = st.session_state.get(state_key)
    st.session_state[state_key] = state
    if previous is not None and previous != state:
        st.rerun(scope="app")
    columns = st.columns([3, 1, 1])
    columns[0].markdown(
        f"{STATE_ICONS.get(state, '')} **{run.name}** is **{state}** · device: {status.get('device') or 'not yet known'}"
    )
    if state in ACTIVE_STATES:
        if columns[1].button("Stop", key=f"stop_{run.name}", help="Finish the batch, save a checkpoint, stop"):
            try:
                run.request_stop()
                st.toast("Stopping after this batch…")
            except UserError as error:
                st.error(str(error))
        # Streamlit draws a chart whose data changed as a new chart, losing the reader's zoom: while a
        # run trains, every second. Pausing stops the redraws (the training goes on), so a zoom stays.
        paused = columns[2].toggle(
            "Pause updates", key=pause_key(run.name),
            help="Stop redrawing this run every second, so that you can zoom into the chart (drag a box) "
                 "and hover over it. The training goes on; turn it off to catch up.",
        )
        if paused and live:
            st.rerun(scope="app")  # Only the page can stop the fragment that redraws this run.
    elif state in ("stopped", "interrupted", "failed"):
        # A run stopped before its first step has no checkpoint yet; resuming it starts it from epoch 0.
        resume_help = "Continue from the last checkpoint" if run.checkpoint_path.exists() else "Start it again from epoch 0"
        if columns[1].button("Resume", key=f"resume_{run.name}", help=resume_help):
            try:
                launch(runs_dir(), run.name, data_dir=status.get("data_dir") or default_data_dir(), resume=True)
                st.rerun(scope="app")
            except UserError as error:
                st.error(str(error))
    if state == "failed":
        st.error(f"The run failed: {status.get('error')}")
    fraction, text = progress_text(status, rows, config)
    st.progress(fraction, text=text)
    epochs = [row for row in rows if row.get("kind") == "epoch" and row.get("val_accuracy") is not None]
    if epochs:
        metric_columns = st.columns(4)
        metric_columns[0].metric("Validation accuracy", f"{epochs[-1]['val_accuracy']:.1%}",
                                 f"{epochs[-1]['val_accuracy'] - epochs[-2]['val_accuracy']:+.1%}" if len(epochs) > 1 else None)
        metric_columns[1].metric("Validation loss", f"{epochs[-1]['val_loss']:.3f}")
        metric_columns[2].metric("Training accuracy", f"{epochs[-1]['accuracy']:.1%}")
        metric_columns[3].metric("Learning rate", f"{epochs[-1]['learning_rate']:.2g}")
    if status.get("final_accuracy") is not None and status.get("final_flip_average"):
        averaged_epochs = status.get("averaged_epochs")
        # An averaged run's epoch metrics above are each epoch's own weights, not the model it finished with.
        finished_model = (f"Finished model, the average of the weights of its last {averaged_epochs} epochs"
                          if averaged_epochs else "Finished model")
        st.caption(
            f"{finished_model}: **{status['final_accuracy']:.1%}** of the validation images right when each is "
            f"averaged with its mirror image, as Predict does ({status['final_single_view_accuracy']:.1%} on the images alone)."
        )
    series = {run.name: rows}
    for name in compare_names:
        try:
            series[name] = open_run(runs_dir(), name).metrics()
        except UserError:
            continue
    st.plotly_chart(training_figure(series), key=f"chart_{run.name}")


def pause_key(run_name):
    return f"pause_{run_name}"


def runs_table_ui(runs):
    rows = []
    for run in runs:
        summary = run.summary()
        rows.append({
            "run": summary["name"],
            "state": summary["state"],
            "preset": summary["preset"],
            "epochs": f"{summary['epochs_done']}/{summary['epochs']}",
            "validation accuracy": None if summary["val_accuracy"] is None else round(summary["val_accuracy"], 4),
            "final score (as Predict does)": None if summary["final_accuracy"] is None else round(summary["final_accuracy"], 4),
            "device": summary["device"],
            "created": datetime.datetime.fromisoformat(summary["created"]) if summary["created"] else None,
        })
    st.dataframe(rows, hide_index=True, column_config={
        "validation accuracy": st.column_config.NumberColumn(
            format="percent", help="On the validation images alone, after the last finished epoch."),
        "final score (as Predict does)": st.column_config.NumberColumn(
            format="percent", help="The finished model as Predict scores it: each validation image averaged with its mirror image when the run trained with flips."),
        "created": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
    })


def render():
    st.title("Train VGG16")
    with st.expander("Why did the blog's VGG16 never learn?"):
        st.markdown(
            "The blog trained VGG16 from scratch **without batch normalization**, with Adam at 1e-3, "
            "pixels in [0, 1] and two Dense 4096 layers. Its loss sat at **2.3026 = ln 10**: the loss of "
            "giving every class probability 1/10, whatever the image. We re-ran that recipe on CIFAR-10 "
            "(the **blog** preset) and measured why:\n\n"
            "1. **The signal fades before training starts.** With Keras' default initialisation, the mean "
            "activation shrinks about four times per block: 0.075 after block 1, 0.019, 0.0067, 0.0015, "
            "0.0002 after block 5, 0.0001 in the Dense layers. The untrained network gives practically the "
            "same answer for every image, so the gradient says little about the image either.\n"
            "2. **Adam's first steps silence the ReLUs.** After the first epochs, 100% of block 5's units "
            "and of the first Dense layer's units never fire on any validation image (92% in block 4). A "
            "network whose last features are all zero outputs the same probabilities, 0.1 for each class, "
            "for every image: loss ln 10, accuracy 10%, and no gradient to climb out.\n\n"
            "**Batch normalization** re-centres and re-scales every conv's output, so the signal keeps its "
            "size through all thirteen layers and ReLUs stay alive. Train the **blog** preset and the "
            "**cpu** preset one after the other and overlay them to see the difference."
        )
    preset_name, config = settings_ui()
    started = start_ui(preset_name, config)

    runs = list_runs(runs_dir())
    if not runs:
        st.info("No runs yet: choose a preset and press Start training.")
        follow_other_sessions_ui(None)
        return
    names = [run.name for run in runs]
    busy = active_run(runs_dir())
    default_name = started or (busy.name if busy else names[0])
    st.subheader("Run")
    columns = st.columns([1, 2])
    run_name = columns[0].selectbox("Show run", names, index=names.index(default_name), key=f"show_run_{default_name}")
    compare_names = columns[1].multiselect("Overlay other runs", [name for name in names if name != run_name], key="compare")
    # Only a run that is training, and not paused, redraws every second. A fragment redrawing while the whole page
    # reruns (a setting changed) is the likely cause of a blank page CI saw, so idle pages keep none.
    if busy is not None and busy.name == run_name and not st.session_state.get(pause_key(run_name)):
        st.fragment(run_every=1.0)(run_view_ui)(run_name, compare_names, live=True)
    else:
        run_view_ui(run_name, compare_names)
        follow_other_sessions_ui(None if busy is None else busy.name)
    st.subheader("All runs")
    runs_table_ui(runs)
    st.caption(f"Runs are saved in {runs_dir().resolve()}; `tensorboard --logdir {runs_dir()}` shows them too.")


@st.fragment(run_every=2.0)
def follow_other_sessions_ui(active_name):
    """Draws nothing: redraws the page when a run starts or ends elsewhere (another session, the CLI),
    so the Start button and the run shown follow."""
    busy = active_run(runs_dir())
    if (None if busy is None else busy.name) != active_name:
        st.rerun(scope="app")
