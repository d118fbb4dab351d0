"""The training doctor on the Train page: the shown run's verdict in one sentence with its numbers, heatmaps of
dead units and gradient size per block over time, and the fix as one button that starts the fixed run.

Drawn inside the run view (app_pages/run_view.py), so it redraws live with it while the run trains.
"""

import math

import streamlit as st
from plotly.subplots import make_subplots

from app_pages import links
from app_pages.plots import go
from vgg.classroom.doctor import Verdict, diagnose_records
from vgg.core.errors import UserError
from vgg.model.names import layer_label
from vgg.runs.diagnostics import heatmap, read_diagnostics

VERDICT_LOOK = {Verdict.HEALTHY: st.success, Verdict.WAITING: st.info}


def diagnosis_figure(diagnostics):
    """Two heatmaps, units (input side at the top) by probe: the share of dead units, and log10 of the gradient's
    size relative to the weights'."""
    dead, gradient = heatmap(diagnostics, "dead_fraction"), heatmap(diagnostics, "gradient_norm")
    labels = [layer_label(name) for name in dead.units]
    x = [f"{epoch:.2f}" for epoch in dead.epochs]
    figure = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.18,
        subplot_titles=("Dead units (share that never fire)", "Gradient size (log10)"),
    )
    figure.add_trace(
        go.Heatmap(
            z=[list(row) for row in dead.values],
            x=x,
            y=labels,
            zmin=0,
            zmax=1,
            colorscale="Reds",
            colorbar={"x": 0.41, "len": 0.9, "tickformat": ".0%"},
            hovertemplate="%{y} at epoch %{x}: %{z:.0%} dead<extra></extra>",
        ),
        row=1,
        col=1,
    )
    logs = [[None if value is None or value <= 0 else math.log10(value) for value in row] for row in gradient.values]
    figure.add_trace(
        go.Heatmap(
            z=logs,
            x=x,
            y=labels,
            colorscale="Viridis",
            colorbar={"x": 1.0, "len": 0.9},
            hovertemplate="%{y} at epoch %{x}: 10^%{z:.1f}<extra></extra>",
        ),
        row=1,
        col=2,
    )
    figure.update_yaxes(autorange="reversed")
    figure.update_xaxes(title_text="epoch", type="category", nticks=8)
    figure.update_layout(height=80 + 22 * len(labels), margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return figure


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


def doctor_ui(run, config, metrics):
    """The run's diagnosis; returns the fixed TrainConfig to start, or None."""
    try:
        diagnostics = read_diagnostics(run)
        diagnosis = diagnose_records(config, diagnostics, metrics)
    except UserError as error:
        st.error(str(error))
        return None
    with st.container(border=True):
        st.markdown("**Diagnosis**")
        VERDICT_LOOK.get(diagnosis.verdict, st.warning)(diagnosis.sentence)
        if diagnostics.probes:
            st.plotly_chart(diagnosis_figure(diagnostics), key=f"doctor_chart_{run.name}")
        if diagnosis.fix_sentence:
            return fix_ui(run, config, diagnosis)
    return None
