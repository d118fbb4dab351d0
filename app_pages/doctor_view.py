"""The training doctor on the Train page: the shown run's verdict in one sentence with its numbers, heatmaps of
dead units and gradient size per block over time, and the fix as one button that starts the fixed run.

Drawn inside the run view (app_pages/run_view.py), so it redraws live with it while the run trains; the verdict
and the heatmaps are made once per change of the run's files for every session watching it.
"""

import math

import streamlit as st
from plotly.subplots import make_subplots

from app_pages import links
from app_pages.charts import power_ticks
from app_pages.plain import plain
from app_pages.plots import SharedFigure, go
from app_pages.presenter import plotly_chart
from vgg.classroom.doctor import Verdict, diagnose_records
from vgg.core.errors import UserError
from vgg.core.files import file_stamp
from vgg.model.names import layer_label
from vgg.runs.diagnostics import heatmap, read_diagnostics
from vgg.runs.folder import Run

VERDICT_LOOK = {Verdict.HEALTHY: st.success, Verdict.WAITING: st.info}


ZERO_COLOUR = "#bdbdbd"  # A gradient of exactly zero: off the colour scale, which has no zero on a log axis.
DIAGNOSIS_CAPTION = (
    "Each row is a layer, input side at the top; each column a check of the network on the same probe images "
    "during training. Left: the share of the layer's units that output zero for every probe image; a dead unit "
    "passes nothing on and stops learning. Right: the gradient's size, how hard the loss pushes the layer's weights "
    "to change (each labelled colour is ten times the one before); grey cells are exactly zero: nothing reaches "
    "that layer to learn from."
)


# Colour bars lie under their maps: beside them, the left one would cover the right map's layer names.
BELOW = {"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom", "len": 0.4, "thickness": 12}


def diagnosis_figure(diagnostics):
    """Two heatmaps, layers (input side at the top) by probe: the share of dead units, and the gradient's size on a
    log scale, with exactly zero drawn in its own labelled colour."""
    dead, gradient = heatmap(diagnostics, "dead_fraction"), heatmap(diagnostics, "gradient_norm")
    labels = [layer_label(name) for name in dead.units]
    x = [f"{epoch:.2f}" for epoch in dead.epochs]
    figure = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.2,
        subplot_titles=("Dead units: share that never fire", "Gradient size: how hard each layer is pushed"),
    )
    figure.add_trace(dead_map(dead.values, x, labels), row=1, col=1)
    figure.add_trace(gradient_map(gradient.values, x, labels), row=1, col=2)
    if any(value == 0 for row in gradient.values for value in row):
        add_zero_overlay(figure, gradient.values, x, labels)
    figure.update_yaxes(autorange="reversed")
    figure.update_xaxes(title_text="epoch", type="category", nticks=8)
    figure.update_layout(height=170 + 22 * len(labels), margin={"l": 10, "r": 10, "t": 40, "b": 80})
    return figure


def dead_map(values, x, labels):
    return go.Heatmap(
        z=[list(row) for row in values],
        x=x,
        y=labels,
        zmin=0,
        zmax=1,
        colorscale="Reds",
        colorbar=BELOW | {"x": 0.2, "tickformat": ".0%"},
        hovertemplate="%{y} at epoch %{x}: %{z:.0%} dead<extra></extra>",
    )


def gradient_map(values, x, labels):
    """The gradient's size on a log scale, its colour bar labelled in powers of ten; zero and unknown left blank."""
    logs = [[None if value is None or value <= 0 else math.log10(value) for value in row] for row in values]
    known = [value for row in logs for value in row if value is not None]
    ticks, words = power_ticks(known) if known else ([], [])
    return go.Heatmap(
        z=logs,
        x=x,
        y=labels,
        colorscale="Viridis",
        colorbar=BELOW | {"x": 0.8, "tickvals": ticks, "ticktext": words},
        hovertemplate="%{y} at epoch %{x}: gradient size %{customdata:.2g}<extra></extra>",
        customdata=[list(row) for row in values],
    )


def add_zero_overlay(figure, values, x, labels):
    """Exactly zero gradients in their own grey, named in the map's corner: a log scale has no place for them."""
    figure.add_trace(
        go.Heatmap(
            z=[[1 if value == 0 else None for value in row] for row in values],
            x=x,
            y=labels,
            colorscale=[[0, ZERO_COLOUR], [1, ZERO_COLOUR]],
            showscale=False,
            hovertemplate="%{y} at epoch %{x}: exactly zero, nothing to learn from<extra></extra>",
        ),
        row=1,
        col=2,
    )
    figure.add_annotation(
        text=f"<span style='color:{ZERO_COLOUR}'>■</span> grey: exactly zero",
        xref="x2 domain",
        yref="y2 domain",
        x=1,
        y=1.0,
        yanchor="bottom",
        showarrow=False,
        font={"size": 11},
    )


def diagnosis_chart_ui(figure, key):
    """The two heatmaps (`diagnosis_figure`) and the sentence that reads them."""
    plotly_chart(figure, key=key)
    st.caption(DIAGNOSIS_CAPTION)


@st.cache_resource(max_entries=64, show_spinner=False)
def shared_diagnosis(run_path, stamps):
    """(diagnostics, diagnosis) of the run at `run_path`, read and judged once per change of its files (`stamps`)
    for every session watching it: each redraws every 2 seconds. Callers must not change them."""
    run = Run(run_path)
    diagnostics = read_diagnostics(run)
    return diagnostics, diagnose_records(run.config(), diagnostics, run.metrics())


@st.cache_resource(max_entries=64, show_spinner=False)
def shared_heatmaps(run_path, stamp):
    """The heatmaps of the run at `run_path`, built once per change of its diagnostics.jsonl (`stamp`) for every
    session watching it. Callers must not change it."""
    return SharedFigure(diagnosis_figure(read_diagnostics(Run(run_path))))


def fix_ui(run, config, diagnosis):
    """The fix, said and offered as a run; returns the fixed TrainConfig when the button was pressed."""
    st.markdown(f"**Try:** {diagnosis.fix_sentence}")
    if links.view_only():  # A view-only link's reader looks; the fix is for whoever opened the page itself.
        return None
    # A callback, as the run view's buttons: a click while the live view redraws is not lost.
    st.button(
        "Start the fixed run",
        key=f"doctor_fix_{run.name}",
        on_click=st.session_state.__setitem__,
        args=(f"doctor_fix_pressed_{run.name}", True),
        help="The same settings with the fix applied; it is overlaid on this run when it starts.",
    )
    if st.session_state.pop(f"doctor_fix_pressed_{run.name}", False):
        return diagnosis.fixed_config(config)
    return None


def doctor_ui(run, config):
    """The run's diagnosis; returns the fixed TrainConfig (of `config`) to start, or None."""
    path, diagnostics_stamp = str(run.path), file_stamp(run.diagnostics_path)
    try:
        stamps = (file_stamp(run.config_path), diagnostics_stamp, file_stamp(run.metrics_path))
        diagnostics, diagnosis = shared_diagnosis(path, stamps)
        figure = shared_heatmaps(path, diagnostics_stamp) if diagnostics.probes else None
    except UserError as error:
        st.error(plain(error))
        return None
    with st.container(border=True):
        st.markdown("**Diagnosis**")
        VERDICT_LOOK.get(diagnosis.verdict, st.warning)(diagnosis.sentence)
        if figure is not None:
            diagnosis_chart_ui(figure, f"doctor_chart_{run.name}")
        if diagnosis.fix_sentence:
            return fix_ui(run, config, diagnosis)
    return None
