"""The teacher's live class dashboard on the Experiments page: whose runs are queued, training or ended
(vgg/classroom/roster.py), and how the class's predictions came out, as a chart and as tables
(vgg/classroom/experiments.py). It redraws by itself, so the teacher watches the class without reloading."""

import streamlit as st

from app_pages.caches import runs_dir
from app_pages.charts import predictions_figure
from app_pages.plain import plain
from app_pages.presenter import plotly_chart
from vgg.classroom.experiments import class_results, tally
from vgg.classroom.roster import GROUPS, class_roster
from vgg.runs.folder import list_runs

# Runs change over minutes; a redraw every few seconds re-reads each run's status and records for one session.
DASHBOARD_SECONDS = 5.0


def class_dashboard_ui(experiments):
    """The dashboard, redrawn every DASHBOARD_SECONDS by a fragment."""
    st.fragment(run_every=DASHBOARD_SECONDS)(dashboard_body)(experiments)


def dashboard_body(experiments):
    st.subheader("The class now")
    st.caption(f"Updates by itself every {DASHBOARD_SECONDS:g} seconds.")
    roster_ui(class_roster(runs_dir()))
    class_table_ui(experiments)


def roster_ui(roster):
    """One column per group of runs, each run as "owner · title", the queue numbered by place."""
    for column, (group, entries) in zip(st.columns(len(GROUPS), border=True), roster.items(), strict=True):
        column.markdown(f"**{group.capitalize()}** · {len(entries)}")
        if not entries:
            column.caption("none")
        lines = [
            (f"{entry.place}. " if entry.place else "- ")
            + (f"{plain(entry.owner)} · " if entry.owner else "")
            + plain(entry.title)
            for entry in entries
        ]
        column.markdown("\n".join(lines))


def class_table_ui(experiments):
    """How each prediction came out as a chart, then how many predicted each choice and every run behind it."""
    results = class_results(experiments, list_runs(runs_dir()))
    st.subheader("How the class predicted")
    if not results:
        st.caption("No experiment has been started yet.")
        return
    counts = tally(results)
    plotly_chart(predictions_figure(counts), key="class_predictions_chart")
    st.dataframe(
        [
            {
                "experiment": experiment,
                "prediction": predicted,
                "students": counted.students,
                "right, of the runs that ended": f"{counted.right} of {counted.ended}",
            }
            for (experiment, predicted), counted in counts.items()
        ],
        hide_index=True,
    )
    rows = [
        {
            "student": result.owner or "",
            "experiment": result.experiment.title,
            "predicted": result.predicted.text if result.predicted else "",
            "right": result.right,
            "what happened": result.happened,
        }
        for result in results
    ]
    st.dataframe(
        rows,
        hide_index=True,
        column_config={
            "right": st.column_config.CheckboxColumn(help="Whether the prediction came true; empty until the run ends.")
        },
    )
