"""Plotly figures of training curves, and of a top-5 prediction."""

import dataclasses
import math

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from vgg.metrics import downsample

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")
CHANCE_LOSS = math.log(10)  # Cross-entropy of a uniform guess over 10 classes: where the blog's run sat.
MAX_POINTS = 1000  # Per training curve, as TensorBoard draws: the shape stays, each redraw sends far less.


@dataclasses.dataclass(frozen=True)
class Series:
    """One run's curves on the training chart."""

    name: str  # The run's folder name, kept in each trace's `meta`.
    label: str  # What the legend says: what the run is, not its id.
    metrics: object  # vgg.metrics.Metrics
    images_per_epoch: int  # Scales epochs to images seen.


def training_figure(series, x_axis="epoch"):
    """Loss and accuracy for [Series]: training per logged interval (solid lines), validation per epoch
    (dashed, with markers), against epochs or images seen (`x_axis` "epoch" or "images")."""
    # Wide enough a gap for the loss plot's reference label, which stands in it.
    figure = make_subplots(rows=1, cols=2, subplot_titles=("Loss", "Accuracy"), horizontal_spacing=0.16)
    highest_training_loss = 0.0
    for index, run in enumerate(series):
        color = PALETTE[index % len(PALETTE)]
        scale = run.images_per_epoch if x_axis == "images" else 1
        batches, epochs = run.metrics.batches, [row for row in run.metrics.epochs if row.val_loss is not None]
        highest_training_loss = max([highest_training_loss] + [row.loss for row in batches])
        for column, key in ((1, "loss"), (2, "accuracy")):
            x, y = downsample(
                [row.epoch * scale for row in batches], [getattr(row, key) for row in batches], MAX_POINTS
            )
            figure.add_trace(go.Scatter(
                x=x, y=y, mode="lines", name=run.label, legendgroup=run.name, showlegend=column == 1, meta=run.name,
                line={"color": color, "width": 2},
                hovertemplate=f"{run.label}<br>training {key}: %{{y:.3f}}<extra></extra>",
            ), row=1, col=column)
            figure.add_trace(go.Scatter(
                x=[row.epoch * scale for row in epochs], y=[getattr(row, f"val_{key}") for row in epochs],
                mode="lines+markers", name=f"{run.label} (validation)", legendgroup=run.name, showlegend=False,
                meta=run.name, line={"color": color, "dash": "dash", "width": 2}, marker={"size": 9},
                hovertemplate=f"{run.label}<br>validation {key}: %{{y:.3f}}<extra></extra>",
            ), row=1, col=column)
    # The reference lines' labels stand in the right margin, off the curves that lie on them.
    figure.add_hline(y=CHANCE_LOSS, line={"color": "grey", "dash": "dot"}, row=1, col=1,
                     annotation_text="ln 10:<br>guessing", annotation_position="right")
    figure.add_hline(y=0.1, line={"color": "grey", "dash": "dot"}, row=1, col=2,
                     annotation_text="10%:<br>chance", annotation_position="right")
    figure.update_xaxes(title_text="images seen" if x_axis == "images" else "epoch", rangemode="tozero")
    # An early validation loss of 30 (batch norm statistics not yet settled) would flatten every
    # other curve: the axis follows the training loss, and higher points leave the chart.
    figure.update_yaxes(range=[0, max(2.6, min(5.0, 1.1 * highest_training_loss))], row=1, col=1)
    figure.update_yaxes(range=[0, 1], tickformat=".0%", row=1, col=2)
    figure.update_layout(
        height=340, margin={"l": 10, "r": 70, "t": 30, "b": 10},
        legend={"orientation": "h", "yanchor": "top", "y": -0.2},
    )
    return figure


def top_classes_figure(top):
    """Horizontal bars of [(class, probability)], the most likely on top."""
    names = [name for name, _ in top][::-1]
    probabilities = [probability for _, probability in top][::-1]
    figure = go.Figure(
        go.Bar(
            x=probabilities, y=names, orientation="h", text=[f"{p:.1%}" for p in probabilities],
            textposition="auto", marker={"color": ["#9ecae1"] * (len(names) - 1) + ["#08519c"]},
        )
    )
    figure.update_xaxes(range=[0, 1], tickformat=".0%")
    figure.update_layout(height=220, margin={"l": 10, "r": 10, "t": 10, "b": 10})
    return figure
