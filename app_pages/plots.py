"""Plotly for the pages: they import `go` from here.

Plotly imports pandas lazily, by looking it up in `sys.modules`, so a second session's thread drawing a figure
while the first one's import of pandas is under way gets the half-made module and fails. Imported here with
an import statement, pandas is whole before any page can draw a figure: Python's import lock makes the other
threads wait.
"""

import pandas  # noqa: F401
import plotly.graph_objects as go

__all__ = ["go"]
