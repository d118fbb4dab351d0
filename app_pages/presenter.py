"""The presenter view: larger text for the projector, and the chart or picture under discussion first with the
choosers folded away."""

import contextlib

import streamlit as st

# On a projector every rem grows by a quarter and the sidebar narrows: the text reads from the back of the room.
# 12rem: narrower, the sidebar's "Try this" task at 20 px breaks its words apart.
PRESENTER_STYLE = (
    "html {font-size: 20px;} [data-testid='stSidebar'][data-collapsed='false'] {width: 12rem !important;"
    " min-width: 12rem !important;}"
)


def presenter_ui():
    """The sidebar's "Presenter view" switch: larger text on every page for the projector, kept in the address
    (?present=1) so that a bookmark on the teacher's machine opens the projector's view."""
    on = st.sidebar.toggle(
        "Presenter view",
        value=st.query_params.get("present") == "1",
        key="presenter",
        help="Larger text for the projector, and the chart or picture first with the choosers "
        "folded away; the address keeps it.",
    )
    if on:
        st.query_params["present"] = "1"
        st.html(f"<style>{PRESENTER_STYLE}</style>")
    elif "present" in st.query_params:
        del st.query_params["present"]


def presenting():
    """Whether the presenter view is on: pages then put the chart or picture under discussion first and fold
    their choosers away."""
    return bool(st.session_state.get("presenter"))


def folded(label):
    """A collapsed expander in the presenter view, so the chart or picture keeps the projector's first screen;
    elsewhere no container at all."""
    return st.expander(label, icon=":material/tune:") if presenting() else contextlib.nullcontext()


# Plotly draws its text in pixels, deaf to the presenter view's larger rem: its charts grow their own text.
PRESENTER_CHART_FONT = 18


def plotly_chart(figure, container=st, **options):
    """`container.plotly_chart(figure, **options)`, with the chart's text as large as the page's in the presenter
    view: every page draws its Plotly charts through here."""
    if presenting():
        from app_pages.plots import go  # Here: the router imports this module, and pandas would delay the first page.

        # A copy: some figures are built once and shared by every session (run_view.shared_figure).
        figure = go.Figure(figure)
        figure.update_layout(font={"size": PRESENTER_CHART_FONT})
        figure.update_annotations(font_size=PRESENTER_CHART_FONT + 2)  # Subplot titles and labels set their own.
        figure.update_traces(textfont_size=PRESENTER_CHART_FONT, selector={"type": "heatmap"})
    return container.plotly_chart(figure, **options)
