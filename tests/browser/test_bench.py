"""`python -m vgg bench --quick --json` end to end: every row measured, with positive numbers."""

import json
import subprocess
import sys

from helpers import PROJECT_ROOT, subprocess_environment

EXPECTED_NAMES = [
    "blog training",
    "blog training compute",
    "cpu training",
    "cpu training compute",
    "half training",
    "top-5 of one image",
    "Grad-CAM",
    "feature maps, 5 blocks",
    "first page painted",
    "Data page drawn, warm server",
]
BROWSER_ROWS = ("first page painted", "Data page drawn, warm server")
# --quick takes about 80 s on a loaded 2-core machine; the timeout keeps a hung bench from hanging the suite.
TIMEOUT_SECONDS = 180


# The bench starts streamlit and Chromium for its "first page painted" row (benchmarks/first_paint.py).
def test_quick_bench_reports_every_row_with_positive_numbers():
    finished = subprocess.run(
        [sys.executable, "-m", "vgg", "bench", "--quick", "--json"],
        cwd=PROJECT_ROOT,
        env=subprocess_environment(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    rows = json.loads(finished.stdout)
    assert [row["name"] for row in rows] == EXPECTED_NAMES
    for row in rows:
        if row["name"] in BROWSER_ROWS and row["note"].startswith("skipped:"):
            continue  # Only the browser rows may be skipped, when chromium or playwright is missing.
        assert row["value"] is not None and row["value"] > 0, row
        assert row["baseline"] is None or (row["baseline"] > 0 and row["ratio"] > 0), row
        assert row["target_met"] in (True, False) if row["target"] else row["target_met"] is None, row
    # The blog's row must compare against the plain Keras code, run in its own interpreter.
    blog = rows[0]
    assert blog["baseline"] > 0 and blog["target"] == "ratio >= 4"
    assert "bench:" in finished.stderr and "targets met of" in finished.stderr
