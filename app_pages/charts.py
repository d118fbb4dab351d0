"""Plotly figures of training curves, and of a top-5 prediction."""

import math

import plotly.graph_objects as go
from plotly.subplots import make_subplots

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")
CHANCE_LOSS = math.log(10)  # Cross-entropy of a uniform guess over 10 classes: where the blog's run sat.


def training_figure(runs_metrics):
    """Loss and accuracy against epochs for {run name: metrics rows}: training per batch (lines),
    validation per epoch (dashed with markers)."""
    figure = make_subplots(rows=1, cols=2, subplot_titles=("Loss", "Accuracy"), horizontal_spacing=0.08)
    highest_training_loss = 0.0
    for index, (name, rows) in enumerate(runs_metrics.items()):
        color = PALETTE[index % len(PALETTE)]
        batches = [row for row in rows if row.get("kind") == "batch"]
        epochs = [row for row in rows if row.get("kind") == "epoch" and row.get("val_loss") is not None]
        highest_training_loss = max([highest_training_loss] + [row["loss"] for row in batches])
        for column, key in ((1, "loss"), (2, "accuracy")):
            figure.add_trace(
                go.Scatter(
                    x=[row["epoch"] for row in batches], y=[row[key] for row in batches], mode="lines",
                    name=f"{name} training", legendgroup=name, showlegend=column == 1,
                    line={"color": color, "width": 2},
                ),
                row=1, col=column,
            )
            figure.add_trace(
                go.Scatter(
                    x=[row["epoch"] for row in epochs], y=[row[f"val_{key}"] for row in epochs], mode="lines+markers",
                    name=f"{name} validation", legendgroup=name, showlegend=column == 1,
                    line={"color": color, "dash": "dash", "width": 2}, marker={"size": 9},
                ),
                row=1, col=column,
            )
    figure.add_hline(
        y=CHANCE_LOSS, line={"color": "grey", "dash": "dot"}, row=1, col=1,
        annotation_text="ln 10: guessing", annotation_position="top right",
    )
    figure.add_hline(y=0.1, line={"color": "grey", "dash": "dot"}, row=1, col=2,
                     annotation_text="10%: chance", annotation_position="bottom right")
    figure.update_xaxes(title_text="epoch", rangemode="tozero")
    # An early validation loss of 30 (batch norm statistics not yet settled) would flatten every
    # other curve: the axis follows the training loss, and higher points leave the chart.
    figure.update_yaxes(range=[0, max(2.6, min(5.0, 1.1 * highest_training_loss))], row=1, col=1)
    figure.update_yaxes(range=[0, 1], tickformat=".0%", row=1, col=2)
    figure.update_layout(
        height=380, margin={"l": 10, "r": 10, "t": 40, "b": 10},
        legend={"orientation": "h", "yanchor": "top", "y": -0.18},
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
