"""Run board: everyone's runs in one sortable table, what each changed from its preset, and a chart of settings
against accuracy, for the discussion after a lab. The teacher pins runs to talk about; they come first.

The page is drawn once per full rerun (it has no live parts): a student presses R, or reopens it, to see
runs that ended meanwhile.
"""

import math

import pandas
import streamlit as st

from app_pages.caches import runs_dir
from app_pages.charts import power_ticks, run_colours
from app_pages.class_ui import identity_ui, is_teacher
from app_pages.pages import BOARD, page_header
from app_pages.plain import plain
from app_pages.plots import go
from app_pages.presenter import plotly_chart
from vgg.classroom.policy import class_mode, pin
from vgg.core.config import changes_from_preset
from vgg.core.errors import UserError
from vgg.core.words import settings_words
from vgg.runs.folder import list_runs, open_run
from vgg.runs.naming import distinct_names

# The settings a class varies most, as the chart's axes: (setting, axis title, drawn on a log scale).
CHART_SETTINGS = (
    ("learning_rate", "learning rate", True),
    ("batch_size", "batch size", True),
    ("width", "width", False),
    ("epochs", "epochs", False),
    ("batch_norm", "batch norm", False),
    ("augment", "flips and crops", False),
    ("weight_decay", "weight decay", True),
)


def board_rows(runs):
    """One record per run: what the table shows and the settings the chart plots."""
    rows, names = [], distinct_names(runs, with_owner=False)  # Runs called alike read apart, in the pins too.
    for run in runs:
        summary = run.summary()
        try:
            config = run.config()
        except UserError:
            config = None
        changes = changes_from_preset(config, summary.preset) if config else {}
        rows.append(
            {
                "pinned": summary.pinned,
                "name": names[run.name],
                "folder": summary.name,
                "owner": summary.owner or "",
                "preset": summary.preset or "",
                "changed": settings_words(changes) or "nothing",
                "best validation accuracy": summary.best_val_accuracy,
                "final score": summary.final_accuracy,
                "minutes": round(summary.minutes, 1),
                "state": str(summary.state),
                "settings": {name: getattr(config, name) for name, _, _ in CHART_SETTINGS} if config else None,
            }
        )
    return sorted(rows, key=lambda row: not row["pinned"])


def table_ui(rows):
    """The runs' table, each run's name in its colour on the charts."""
    table = pandas.DataFrame([{key: value for key, value in row.items() if key != "settings"} for row in rows])
    colours = run_colours(table["folder"])
    st.dataframe(
        table.style.apply(lambda _: [f"color: {colours[folder]}" for folder in table["folder"]], subset=["name"]),
        hide_index=True,
        # The scores right after the name: on a projector's narrow screen they must not scroll out of sight.
        column_order=(
            "pinned",
            "name",
            "best validation accuracy",
            "final score",
            "owner",
            "changed",
            "preset",
            "minutes",
            "state",
        ),
        column_config={
            "name": st.column_config.TextColumn("name", width="medium"),
            "pinned": st.column_config.CheckboxColumn(
                "pinned", width="small", help="Pinned by the teacher for discussion."
            ),
            "folder": None,
            "best validation accuracy": st.column_config.NumberColumn(
                "best accuracy", format="percent", help="The best epoch, on the validation images alone."
            ),
            "final score": st.column_config.NumberColumn(
                format="percent", help="The finished model as Predict scores it."
            ),
            "minutes": st.column_config.NumberColumn(help="Training time so far."),
        },
    )


def axis(values, title, logarithmic):
    """One axis of the chart: on/off for a yes-or-no setting, powers of ten labelled as numbers on a log scale."""
    if all(isinstance(value, bool) for value in values):
        return {
            "label": title,
            "values": [int(value) for value in values],
            "range": [0, 1],
            "tickvals": [0, 1],
            "ticktext": ["off", "on"],
        }
    values = [float(value) for value in values]
    if not (logarithmic and all(value > 0 for value in values)):
        return {"label": title, "values": values}
    logs = [math.log10(value) for value in values]
    ticks, words = power_ticks(logs)
    return {
        "label": f"{title} (log scale)",
        "values": logs,
        "range": [ticks[0], ticks[-1]],
        "tickvals": ticks,
        "ticktext": words,
    }


def settings_figure(rows):
    """Parallel coordinates: one line per run through its settings, ending at its best validation accuracy."""
    plotted = [row for row in rows if row["settings"] and row["best validation accuracy"] is not None]
    dimensions = []
    for name, title, logarithmic in CHART_SETTINGS:
        dimensions.append(axis([row["settings"][name] for row in plotted], title, logarithmic))
    accuracy = [row["best validation accuracy"] for row in plotted]
    dimensions.append({"label": "best validation accuracy", "values": accuracy, "range": [0, 1]})
    # Parallel coordinates colour lines only through a scale: one stop per run, at its own index, in its colour.
    colours = run_colours([row["folder"] for row in plotted])
    last = max(len(plotted) - 1, 1)
    scale = [[index / last, colours[row["folder"]]] for index, row in enumerate(plotted)]
    figure = go.Figure(
        go.Parcoords(
            line={"color": list(range(len(plotted))), "colorscale": scale if len(scale) > 1 else scale * 2},
            dimensions=dimensions,
            # Tilted, the axes' titles stay apart at the presenter view's larger text too.
            labelangle=-20,
            labelside="top",
        )
    )
    figure.update_layout(height=380, margin={"l": 120, "r": 90, "t": 90, "b": 20})
    return figure


def pins_ui(rows):
    """The teacher's pins (anyone's outside class mode); returns the folder names to pin when changed, else None."""
    if class_mode() and not is_teacher():
        return None
    labels = {row["folder"]: f"{row['name']} · {row['owner']}" if row["owner"] else row["name"] for row in rows}
    pinned = [row["folder"] for row in rows if row["pinned"]]
    chosen = st.multiselect(
        "Pinned for discussion",
        list(labels),
        default=pinned,
        format_func=labels.get,
        key="board_pins",
        help="Pinned runs come first on this board, for every student.",
    )
    return chosen if set(chosen) != set(pinned) else None


def save_pins(rows, chosen):
    """Pins the runs `chosen` and unpins the others; a refusal is one sentence on the page."""
    for row in rows:
        wanted = row["folder"] in chosen
        if wanted != row["pinned"]:
            try:
                pin(open_run(runs_dir(), row["folder"]), wanted, is_teacher())
            except UserError as error:
                st.error(plain(error))
                return
    st.rerun()


def render():
    # The board has no choices to keep: its link only opens the page, for everyone's runs.
    page_header(BOARD, ())
    identity_ui()
    runs = list_runs(runs_dir())
    if not runs:
        st.info("No runs yet: start one on the Train page, and every run of the class appears here.")
        return
    rows = board_rows(runs)
    chosen = pins_ui(rows)
    if chosen is not None:
        save_pins(rows, chosen)
    table_ui(rows)
    st.caption(
        "Click a column's title to sort by it. \"changed\" lists the settings that differ from the run's "
        "preset: what each person tried."
    )
    if sum(row["best validation accuracy"] is not None for row in rows) >= 2:
        st.subheader("Settings against accuracy")
        plotly_chart(settings_figure(rows), key="board_chart")
        st.caption(
            "Each line is a run, through its settings to its best validation accuracy, in the run's colour on "
            "every chart (its name in the table has it too). "
            "On an axis marked log scale each labelled tick is ten times the one below; batch norm and flips are "
            "off or on. Drag along an axis to keep only the runs in that range."
        )
    else:
        st.caption("The chart of settings against accuracy appears once two runs have finished an epoch.")
