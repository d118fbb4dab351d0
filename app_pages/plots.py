"""Plotly for the pages: they import `go` from here, and `SharedFigure` for a figure that many sessions draw unchanged.

Plotly imports pandas lazily, by looking it up in `sys.modules`, so a second session's thread drawing a figure
while the first one's import of pandas is under way gets the half-made module and fails. Imported here with
an import statement, pandas is whole before any page can draw a figure: Python's import lock makes the other
threads wait.
"""

import threading

import pandas  # noqa: F401
import plotly.graph_objects as go

__all__ = ["SharedFigure", "go"]


class SharedFigure(go.Figure):
    """A figure built once and drawn unchanged by every session that watches it (the live views' charts).

    st.plotly_chart turns a figure into a dict at every draw, a deep copy of every point and of Plotly's template
    that cost most of a watching session's redraw; this figure makes that dict once. Nobody may change it.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._dict_lock = threading.Lock()
        self._dict = None

    def to_dict(self):
        with self._dict_lock:
            if self._dict is None:
                self._dict = super().to_dict()
            return self._dict
