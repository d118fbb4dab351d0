"""The blog's run and its fix, replayed from the records shipped in assets/replays/: what the class sees before
anyone trains. The explanation is the training doctor's, read from the blog run's own records.

It redraws once a second only while playing (a fragment); otherwise once per full rerun of the page.
"""

import dataclasses
import time

import streamlit as st

from app_pages.charts import Series, run_colours, training_figure
from app_pages.doctor_view import diagnosis_chart_ui, diagnosis_figure
from app_pages.plain import plain
from app_pages.plots import go
from app_pages.presenter import plotly_chart
from vgg.classroom.doctor import diagnose_records
from vgg.classroom.replays import at, duration, replays
from vgg.core.errors import UserError
from vgg.model.names import layer_label
from vgg.runs.diagnostics import read_diagnostics
from vgg.runs.status import images_per_epoch

SPEEDS = {"10x": 10.0, "30x": 30.0, "100x": 100.0}
START_KEY = "replay_started"


def moments(recorded, seconds):
    return [(run, at(run, seconds)) for run in recorded]


def replay_figure(recorded, seconds):
    series = []
    blog = recorded[0]
    for run, moment in moments(recorded, seconds):
        config, status = run.config(), run.status()
        label = f"{run_label(blog, run)}, replayed"
        series.append(Series(run.name, label, moment.metrics, images_per_epoch(config, status)))
    return training_figure(series)


def changes(blog, other):
    """What `other` changed from the blog's recipe, in words: 'batch norm on, learning rate 0.0001'."""
    before, after = dataclasses.asdict(blog.config()), dataclasses.asdict(other.config())
    return ", ".join(setting_words(name, value) for name, value in after.items() if before[name] != value)


def setting_words(name, value):
    if isinstance(value, bool):
        return f"{name.replace('_', ' ')} {'on' if value else 'off'}"
    return f"{name.replace('_', ' ')} {value:g}" if isinstance(value, float) else f"{name.replace('_', ' ')} {value}"


def run_label(blog, run):
    return "the blog's recipe" if run is blog else "+ " + changes(blog, run)


def dead_units_figure(recorded):
    """Side by side, for each recorded run at its end: the share of each layer's ReLUs that never fire."""
    figure = go.Figure()
    colours = run_colours([run.name for run in recorded])
    for run in recorded:
        latest = read_diagnostics(run).latest
        units = [unit for unit in latest.units if unit.dead_fraction is not None] if latest else []
        figure.add_bar(
            x=[layer_label(unit.name) for unit in units],
            y=[unit.dead_fraction for unit in units],
            name=run_label(recorded[0], run),
            marker_color=colours[run.name],
            hovertemplate="%{x}: %{y:.0%} of its units never fire<extra></extra>",
        )
    figure.update_layout(
        barmode="group",
        title="Dead units at the end of each run: the share of a layer's ReLUs that output zero for every image",
        yaxis={"tickformat": ".0%", "range": [0, 1]},
        legend={"orientation": "h", "y": -0.25},
        height=360,
    )
    return figure


def outcome(run):
    last = run.metrics().epochs[-1] if run.metrics().epochs else None
    return f"{last.val_accuracy:.0%} of the validation images right" if last else "no epoch recorded"


def explanation_ui(recorded, moment):
    """The doctor's verdict on the blog run as it stood at this moment, its fix, and what each step of the fix did,
    from the records."""
    blog = recorded[0]
    diagnosis = diagnose_records(blog.config(), moment.diagnostics, moment.metrics)
    st.markdown(f"**The training doctor, {moment.seconds:.0f} s into the blog's run:** {diagnosis.sentence}")
    if diagnosis.fix_sentence:
        steps = "; ".join(f"with {changes(blog, run)}: {outcome(run)}" for run in recorded[1:])
        st.markdown(
            f"**Its fix:** {diagnosis.fix_sentence} The runs below apply it one change at a time, recorded the "
            f"same way ({outcome(blog)} for the blog's own recipe; {steps})."
        )
    if moment.diagnostics.probes:
        diagnosis_chart_ui(diagnosis_figure(moment.diagnostics), "replay_doctor")
    if len(recorded) > 1:
        plotly_chart(dead_units_figure(recorded), key="replay_dead_units")
        st.caption(
            "A dead unit outputs zero for every image, so no gradient reaches its weights and it never learns "
            "again. Compare the Dense layers: batch norm alone leaves them dead; smaller steps keep them alive."
        )


def replay_body(recorded):
    started = st.session_state.get(START_KEY)
    speed = SPEEDS.get(st.session_state.get("replay_speed") or "", 0.0)
    longest = max(duration(run) for run in recorded)
    seconds = longest if started is None or not speed else (time.time() - started) * speed
    if started is not None and seconds >= longest:
        st.session_state.pop(START_KEY, None)
        st.rerun(scope="app")  # Stop the fragment that plays it.
    st.progress(min(1.0, seconds / longest), text=f"{min(seconds, longest):.0f} s of {longest:.0f} s of training")
    plotly_chart(replay_figure(recorded, seconds), key="replay_chart")
    explanation_ui(recorded, at(recorded[0], seconds))


def replay_ui(expanded):
    """The replay, in an expander opened when the runs folder is empty (a fresh install)."""
    try:
        recorded = replays()
    except UserError as error:
        st.error(plain(error))
        return
    if len(recorded) < 1:
        return
    with st.expander("Why did the blog's VGG16 never learn? Its run and its fix, replayed", expanded=expanded):
        st.markdown(
            "The blog trained VGG16 from scratch **without batch normalization**, with Adam at 1e-3, "
            "pixels in [0, 1] and two Dense 4096 layers, and its loss sat at **ln 10 = 2.3026**: the loss of "
            "giving every class 1/10 whatever the image. Below, the same recipe on 3,000 CIFAR-10 images "
            "(the **blog-short** preset) and the doctor's fix, one change at a time, recorded by this app's own "
            "trainer."
        )
        columns = st.columns([2, 1], vertical_alignment="bottom")
        columns[0].segmented_control("Replay speed", list(SPEEDS), key="replay_speed", default="30x")
        if columns[1].button("Play from the start", key="replay_play"):
            st.session_state[START_KEY] = time.time()
        try:
            if st.session_state.get(START_KEY) is not None:
                st.fragment(run_every=1.0)(replay_body)(recorded)
            else:
                replay_body(recorded)
        except UserError as error:
            st.error(plain(error))
