"""Plotly figures: training curves, a top-5 prediction, a confusion matrix."""

import dataclasses
import math
import zlib

import numpy as np

from app_pages.plain import plain_html
from app_pages.plots import SharedFigure, go
from vgg.core.cifar10 import CHANCE_ACCURACY, CHANCE_LOSS
from vgg.runs.metrics import downsample

# Plotly's qualitative D3 colours, less its grey (the reference lines' colour).
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#bcbd22")
RIGHT_COLOUR = "#74c476"  # The diagonal (right answers) in green, apart from the mistakes' white-to-red scale.
# White to a medium red, not to Plotly's near-black "Reds": the counts stay readable in black on every cell.
MISTAKE_SCALE = [[0, "#fff5f0"], [0.5, "#fc9272"], [1, "#e0393a"]]
MAX_POINTS = 1000  # Per training curve, as TensorBoard draws: the shape stays, each redraw sends far less.
# The training chart's chance levels: (label, value, axes' suffix: "" for the loss plot, "2" for accuracy).
CHANCE_LINES = (("ln 10: guessing", CHANCE_LOSS, ""), ("10%: chance", CHANCE_ACCURACY, "2"))


@dataclasses.dataclass(frozen=True)
class Series:
    """One run's curves on the training chart."""

    name: str  # The run's folder name, kept in each trace's `meta`.
    label: str  # What the legend says: what the run is, not its id.
    metrics: object  # vgg.runs.metrics.Metrics
    images_per_epoch: int  # Scales epochs to images seen.


def power_ticks(logs, most=6):
    """(tick positions, labels) for an axis of log10 values `logs`: whole powers of ten around them (at least two, at
    most about `most`), labelled as the numbers they stand for: 0.001, not -3."""
    low, high = math.floor(min(logs)), math.ceil(max(logs))
    high = max(high, low + 1)
    powers = list(range(low, high + 1))[:: max(1, math.ceil((high - low) / (most - 1)))]
    powers += [high] if powers[-1] != high else []  # The top tick ends the axis: every value stays on it.
    return powers, [f"{10.0**power:g}" for power in powers]


def run_colour(name, taken=()):
    """A run's colour on every chart (replay, live overlay, Run board), from a stable hash of its folder's name; the
    next free colour when another run on the same chart has it already."""
    start = zlib.crc32(name.encode())
    for step in range(len(PALETTE)):
        colour = PALETTE[(start + step) % len(PALETTE)]
        if colour not in taken:
            return colour
    return PALETTE[start % len(PALETTE)]


def run_colours(names):
    """{name: colour} for the runs on one chart, each its own colour while the palette lasts; sorted, so a clash is
    settled the same way on every chart that shows both runs."""
    colours = {}
    for name in sorted(names):
        colours[name] = run_colour(name, colours.values())
    return colours


def training_figure(series, x_axis="epoch", shared=False):
    """Loss and accuracy for [Series]: training per logged interval (solid lines), validation per epoch
    (dashed, with markers), against epochs or images seen (`x_axis` "epoch" or "images"); `shared`: a SharedFigure,
    for a cache that hands it to every session."""
    traces, highest_training_loss = [], 0.0
    colours = run_colours([run.name for run in series])
    for run in series:
        color, label = colours[run.name], plain_html(run.label)
        scale = run.images_per_epoch if x_axis == "images" else 1
        batches, epochs = run.metrics.batches, [row for row in run.metrics.epochs if row.val_loss is not None]
        highest_training_loss = max([highest_training_loss] + [row.loss for row in batches])
        for axes, key in (("", "loss"), ("2", "accuracy")):
            x, y = downsample(
                [row.epoch * scale for row in batches], [getattr(row, key) for row in batches], MAX_POINTS
            )
            common = {"legendgroup": run.name, "meta": run.name, "xaxis": f"x{axes}", "yaxis": f"y{axes}"}
            # Dicts, not go.Scatter: the figure checks each trace once, as it is made.
            traces.append(
                {
                    "type": "scatter",
                    "x": x,
                    "y": y,
                    "mode": "lines",
                    "name": label,
                    "showlegend": not axes,
                    "line": {"color": color, "width": 2},
                    "hovertemplate": f"{label}<br>training {key}: %{{y:.3f}}<extra></extra>",
                }
                | common
            )
            traces.append(
                {
                    "type": "scatter",
                    "x": [row.epoch * scale for row in epochs],
                    "y": [getattr(row, f"val_{key}") for row in epochs],
                    "mode": "lines+markers",
                    "name": f"{label} (validation)",
                    "showlegend": False,
                    "line": {"color": color, "dash": "dash", "width": 2},
                    "marker": {"size": 9},
                    "hovertemplate": f"{label}<br>validation {key}: %{{y:.3f}}<extra></extra>",
                }
                | common
            )
    # An early validation loss of 30 (batch norm statistics not yet settled) would flatten every
    # other curve: the axis follows the training loss, and higher points leave the chart.
    loss_range = [0, max(2.6, min(5.0, 1.1 * highest_training_loss))]
    layout = training_layout("images seen" if x_axis == "images" else "epoch", loss_range)
    return (SharedFigure if shared else go.Figure)(traces, layout)


def training_layout(x_title, loss_range):
    """The training chart's two plots side by side (Loss, Accuracy), each with its chance level as a dotted line
    labelled inside it: written out rather than made by make_subplots and add_hline, which took most of the time
    of a chart that the live view builds anew every second."""
    x_axis = {"title": {"text": x_title}, "rangemode": "tozero"}
    # The reference lines' labels stand inside their plots, so the gap between the plots needs room for the axis
    # labels only, even at the presenter view's larger text.
    return {
        "xaxis": {"anchor": "y", "domain": [0.0, 0.45]} | x_axis,
        "yaxis": {"anchor": "x", "domain": [0.0, 1.0], "range": loss_range},
        "xaxis2": {"anchor": "y2", "domain": [0.55, 1.0]} | x_axis,
        "yaxis2": {"anchor": "x2", "domain": [0.0, 1.0], "range": [0, 1], "tickformat": ".0%"},
        "annotations": [
            *(
                {"font": {"size": 16}, "showarrow": False, "text": title, "x": x, "xanchor": "center"}
                | {"xref": "paper", "y": 1.0, "yanchor": "bottom", "yref": "paper"}
                for title, x in (("Loss", 0.225), ("Accuracy", 0.775))
            ),
            *(
                {"showarrow": False, "text": text, "x": 1, "xanchor": "right", "xref": f"x{axes} domain", "y": y}
                | {"yanchor": "bottom", "yref": f"y{axes}"}
                for text, y, axes in CHANCE_LINES
            ),
        ],
        # Each chance level as a dotted line across its plot; its label (above) stands at the line's right end.
        "shapes": [
            {"line": {"color": "grey", "dash": "dot"}, "type": "line", "x0": 0, "x1": 1, "xref": f"x{axes} domain"}
            | {"y0": y, "y1": y, "yref": f"y{axes}"}
            for _, y, axes in CHANCE_LINES
        ],
        "margin": {"l": 10, "r": 70, "t": 30, "b": 10},
        "legend": {"orientation": "h", "yanchor": "top", "y": -0.2},
        "height": 340,
    }


def top_classes_figure(top):
    """Horizontal bars of [(class, probability)], the most likely on top."""
    names = [name for name, _ in top][::-1]
    probabilities = [probability for _, probability in top][::-1]
    figure = go.Figure(
        go.Bar(
            x=probabilities,
            y=names,
            orientation="h",
            text=[f"{p:.1%}" for p in probabilities],
            textposition="auto",
            marker={"color": ["#9ecae1"] * (len(names) - 1) + ["#08519c"]},
        )
    )
    figure.update_xaxes(range=[0, 1], tickformat=".0%")
    figure.update_layout(height=220, margin={"l": 10, "r": 10, "t": 10, "b": 10})
    return figure


def confusion_figure(evaluation, chosen, shared=False):
    """The confusion matrix: mistakes on a white-to-red scale of each true class's share, right answers in green
    on the diagonal, every cell with its count; `chosen` (true, called) is outlined. `shared`: a SharedFigure."""
    names = list(evaluation.class_names)
    counts, shares = evaluation.confusion, evaluation.row_shares()
    diagonal = np.eye(len(names), dtype=bool)
    wrong = np.where(diagonal, np.nan, shares)
    top = max(float(np.nanmax(wrong)) if len(names) > 1 else 0.0, 0.02)
    # The heatmaps only draw; hovering and clicking go to the invisible markers on top (the third trace).
    # Empty mistake cells stay blank so the others stand out; the diagonal always shows its count, even 0.
    text = np.where((counts > 0) | diagonal, counts.astype(str), "")
    common = {
        "x": names,
        "y": names,
        "text": text,
        "texttemplate": "%{text}",
        "textfont": {"color": "black"},
        "hoverinfo": "skip",
        "showscale": False,
        "xgap": 2,
        "ygap": 2,
    }
    figure = (SharedFigure if shared else go.Figure)(
        [
            go.Heatmap(z=wrong, colorscale=MISTAKE_SCALE, zmin=0, zmax=top, name="mistakes", **common),
            go.Heatmap(
                z=np.where(diagonal, 1.0, np.nan),
                colorscale=[[0, RIGHT_COLOUR], [1, RIGHT_COLOUR]],
                name="right",
                **common,
            ),
            cell_markers(names, counts, shares),
        ]
    )
    true, called = chosen
    figure.add_shape(
        type="rect",
        x0=called - 0.5,
        x1=called + 0.5,
        y0=true - 0.5,
        y1=true + 0.5,
        line={"color": "#08519c", "width": 3},
    )
    # Fixed ranges: the markers would otherwise pad the axes, and grid lines would show around the cells.
    edges = (-0.5, len(names) - 0.5)
    figure.update_xaxes(
        title_text="called (the model's answer)",
        tickangle=-40,
        fixedrange=True,
        range=edges,
        showgrid=False,
        zeroline=False,
        ticks="",
    )
    figure.update_yaxes(
        title_text="true class", range=edges[::-1], fixedrange=True, showgrid=False, zeroline=False, ticks=""
    )
    figure.update_layout(height=430, margin={"l": 10, "r": 10, "t": 10, "b": 10}, showlegend=False)
    return figure


def cell_markers(names, counts, shares):
    """One invisible square marker per cell: Plotly selects scatter points on a click, never heatmap cells, so
    these carry the click (as a point selection with the cell's x and y) and the hover text."""
    cells = [(true, called) for true in range(len(names)) for called in range(len(names))]
    invisible = {"marker": {"opacity": 0}}
    return go.Scatter(
        x=[names[called] for _, called in cells],
        y=[names[true] for true, _ in cells],
        mode="markers",
        marker={"symbol": "square", "size": 24, "opacity": 0, "color": "black"},
        selected=invisible,
        unselected=invisible,
        name="cells",
        customdata=[[counts[cell], shares[cell]] for cell in cells],
        hovertemplate=(
            "true <b>%{y}</b>, called <b>%{x}</b>: %{customdata[0]:,} images<br>"
            "(%{customdata[1]:.1%} of the %{y} images)<extra></extra>"
        ),
    )


def percent(share):
    """A share as the table shows it; a share of nothing (NaN) as a dash, not 'None'."""
    return "–" if np.isnan(share) else f"{share:.1%}"


# A prediction's students: came true in green, did not in red, still waiting for their run in grey.
OUTCOME_BARS = (
    ("came true", "right", RIGHT_COLOUR),
    ("did not", "wrong", "#e0393a"),
    ("run not ended", "waiting", "#bdbdbd"),
)


def predictions_figure(tallies):
    """Horizontal stacked bars, one per (experiment, prediction) of `tallies` ({(experiment title, prediction
    text): Tally}), counting its students by what came of their prediction."""
    keys = list(tallies)
    # Two-level labels: each experiment's predictions gathered under its title.
    y = [[plain_html(title) for title, _ in keys], [plain_html(text or "no prediction") for _, text in keys]]
    figure = go.Figure()
    for name, attribute, colour in OUTCOME_BARS:
        counts = [getattr(tallies[key], attribute) for key in keys]
        figure.add_trace(
            go.Bar(
                x=counts,
                y=y,
                orientation="h",
                name=name,
                marker_color=colour,
                text=[count or "" for count in counts],
                textposition="inside",
                hovertemplate=f"%{{y}}<br>{name}: %{{x}} student(s)<extra></extra>",
            )
        )
    figure.update_layout(
        barmode="stack",
        height=120 + 40 * len(keys),
        margin={"l": 10, "r": 10, "t": 10, "b": 40},
        legend={"orientation": "h", "y": -0.25, "traceorder": "normal"},
        xaxis={"title": {"text": "students"}, "dtick": 1},
        yaxis={"autorange": "reversed"},
    )
    return figure
